"""The app `test_schemes_browser` serves under uvicorn, and its Swagger UI "try it out" page.

``uvicorn --factory tests.auth.swagger_app:token_scheme_app`` builds it with `setup()` from the
``FASTAPI_PRO_*`` variables the test passes (``auth.schemes``, ``docs.self_hosted``), as a
service would. Besides its API it serves ``/swagger-try-it-out``: the self-hosted Swagger UI
bundle driven by `swagger_try_it_out.html`'s script, since headless Chromium's ``--dump-dom``
cannot click the Authorize and Execute buttons.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from string import Template

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal, Principal, password_flow_router
from fastapi_pro.security_headers import SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY
from fastapi_pro.self_hosted_docs import ASSETS_ROUTE_NAME

USERNAME = "alice"
PASSWORD = "wonderland"
TRY_IT_OUT_PATH = "/swagger-try-it-out"
_PAGE = Template((Path(__file__).parent / "swagger_try_it_out.html").read_text())


async def authenticate(username: str, password: str) -> Principal | None:
    """The password flow's check: one user."""
    known = secrets.compare_digest(f"{username}:{password}", f"{USERNAME}:{PASSWORD}")
    return Principal(username) if known else None


async def try_it_out_page(request: Request) -> HTMLResponse:
    """Swagger UI from the app's own assets, with the script that authorizes and executes."""
    page = _PAGE.substitute(
        css=request.url_for(ASSETS_ROUTE_NAME, path="swagger-ui.css").path,
        bundle=request.url_for(ASSETS_ROUTE_NAME, path="swagger-ui-bundle.js").path,
    )
    # The docs pages' policy (inline scripts, scripts and requests to this origin only); the
    # API's policy, which the security headers would add otherwise, allows no script at all.
    policy = {"Content-Security-Policy": SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY}
    return HTMLResponse(page, headers=policy)


def token_scheme_app() -> FastAPI:
    """`setup()` with the environment's settings, a protected route and the password flow."""
    app = FastAPI(title="Orders")

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    app.include_router(password_flow_router(authenticate))
    app.add_api_route(TRY_IT_OUT_PATH, try_it_out_page, include_in_schema=False)
    setup(app, Settings(_env_file=None), logging=False, token_url="/auth/token")
    return app
