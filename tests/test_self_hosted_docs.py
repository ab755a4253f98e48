"""`install_self_hosted_docs` and `docs.self_hosted`: the docs pages' assets come from the app.

The pages as a browser renders them, with the network closed, are in
``test_self_hosted_docs_browser.py``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from fastapi_pro import Settings, setup
from fastapi_pro.security_headers import (
    DOCS_CONTENT_SECURITY_POLICY,
    SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY,
)
from fastapi_pro.self_hosted_docs import (
    ASSETS_PATH_PATTERN,
    ASSETS_ROUTE_NAME,
    install_self_hosted_docs,
)
from fastapi_pro.settings import DocsSettings
from tests.servers import in_process as serve
from tests.test_docs import load

CDN = "cdn.jsdelivr.net"


def make_app(**options: Any) -> FastAPI:
    app = FastAPI(title="Widgets", **options)

    @app.get("/widgets")
    async def list_widgets() -> list[str]:
        return ["sprocket"]

    return app


@asynccontextmanager
async def client_for(app: Any, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def own_assets(tmp_path: Path) -> Path:
    """A directory of Swagger UI's two files and nothing else (no ReDoc, no icon)."""
    (tmp_path / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = null;")
    (tmp_path / "swagger-ui.css").write_text("body { margin: 0 }")
    return tmp_path


# -- the pages and their assets --------------------------------------------------------------------


async def test_swagger_ui_loads_its_script_and_style_from_the_app() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        page = await client.get("/docs")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        style = await client.get("/docs/assets/swagger-ui.css")
        icon = await client.get("/docs/assets/favicon.png")

    assert page.status_code == 200
    assert CDN not in page.text
    assert "fastapi.tiangolo.com" not in page.text
    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text
    assert 'href="/docs/assets/swagger-ui.css"' in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert icon.headers["content-type"] == "image/png"


async def test_redoc_loads_its_script_from_the_app_without_google_fonts() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        page = await client.get("/redoc")
        script = await client.get("/docs/assets/redoc.standalone.js")

    assert page.status_code == 200
    assert '<script src="/docs/assets/redoc.standalone.js">' in page.text
    assert CDN not in page.text
    assert "fonts.googleapis.com" not in page.text
    assert script.status_code == 200


async def test_the_pages_and_assets_follow_the_root_path() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    async with client_for(app, root_path="/api") as client:
        page = await client.get("/api/docs")
        redoc = await client.get("/api/redoc")
        script = await client.get("/api/docs/assets/swagger-ui-bundle.js")

    assert '<script src="/api/docs/assets/swagger-ui-bundle.js">' in page.text
    assert "url: '/api/openapi.json'" in page.text
    assert "oauth2RedirectUrl: window.location.origin + '/api/docs/oauth2-redirect'" in page.text
    assert 'spec-url="/api/openapi.json"' in redoc.text
    assert script.status_code == 200


async def test_swagger_ui_options_of_the_app_are_kept() -> None:
    app = make_app(
        docs_url="/reference",
        openapi_url="/v1/openapi.json",
        swagger_ui_oauth2_redirect_url="/reference/callback",
        swagger_ui_init_oauth={"clientId": "widgets-docs"},
        swagger_ui_parameters={"tryItOutEnabled": True},
    )
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        page = await client.get("/reference")
        redirect = await client.get("/reference/callback")

    assert '<script src="/reference/assets/swagger-ui-bundle.js">' in page.text
    assert "url: '/v1/openapi.json'" in page.text
    assert '"tryItOutEnabled": true' in page.text
    assert 'ui.initOAuth({"clientId": "widgets-docs"})' in page.text
    assert "window.location.origin + '/reference/callback'" in page.text
    assert redirect.status_code == 200
    assert "oauth2" in redirect.text


async def test_the_assets_stay_out_of_the_openapi_document() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        document = (await client.get("/openapi.json")).json()

    assert list(document["paths"]) == ["/widgets"]


async def test_the_assets_route_has_a_name_for_url_for() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    url = app.url_path_for(ASSETS_ROUTE_NAME, path="swagger-ui.css")

    assert url == "/docs/assets/swagger-ui.css"


async def test_an_unknown_asset_is_a_404() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        response = await client.get("/docs/assets/../../etc/passwd")
        missing = await client.get("/docs/assets/nothing.js")

    assert response.status_code == 404
    assert missing.status_code == 404


# -- which pages, where from -----------------------------------------------------------------------


async def test_a_page_the_app_turned_off_stays_off() -> None:
    app = make_app(docs_url=None)
    install_self_hosted_docs(app)

    async with client_for(app) as client:
        docs = await client.get("/docs")
        redoc = await client.get("/redoc")

    assert docs.status_code == 404
    assert '<script src="/redoc/assets/redoc.standalone.js">' in redoc.text


def test_an_app_without_openapi_gets_nothing(tmp_path: Path) -> None:
    app = make_app(openapi_url=None)
    routes = list(app.router.routes)

    install_self_hosted_docs(app, directory=tmp_path)  # empty: no page needs a file

    assert app.router.routes == routes


async def test_a_directory_and_path_of_your_own(own_assets: Path) -> None:
    app = make_app(redoc_url=None)
    install_self_hosted_docs(app, path="/static/docs/", directory=own_assets)

    async with client_for(app) as client:
        page = await client.get("/docs")
        script = await client.get("/static/docs/swagger-ui-bundle.js")

    assert '<script src="/static/docs/swagger-ui-bundle.js">' in page.text
    assert '<link rel="shortcut icon" href="data:,">' in page.text  # no icon: none is fetched
    assert script.text == "window.SwaggerUIBundle = null;"


def test_a_directory_without_a_pages_file_is_refused_at_install(own_assets: Path) -> None:
    app = make_app()  # ReDoc is on, and the directory has no redoc.standalone.js

    with pytest.raises(RuntimeError, match=r"lacks redoc\.standalone\.js") as raised:
        install_self_hosted_docs(app, directory=own_assets)

    assert "fastapi-pro[self-hosted-docs]" in str(raised.value)
    assert app.router.routes[1].name == "swagger_ui_html"  # nothing was changed


def test_without_the_extra_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi_offline", None)  # as if it were not installed

    with pytest.raises(RuntimeError, match=r"pip install 'fastapi-pro\[self-hosted-docs\]'"):
        install_self_hosted_docs(make_app())


@pytest.mark.parametrize("path", ["assets", "/", "//cdn.example.com/ui", "/docs/<script>"])
def test_an_assets_path_that_is_not_a_folder_of_the_app_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="must be a folder below '/'"):
        install_self_hosted_docs(make_app(), path=path)


def test_the_settings_and_the_function_agree_on_assets_paths() -> None:
    assert ASSETS_PATH_PATTERN in str(DocsSettings.model_json_schema()["properties"])


def test_installing_twice_is_refused() -> None:
    app = make_app()
    install_self_hosted_docs(app)

    with pytest.raises(RuntimeError, match="already called"):
        install_self_hosted_docs(app)


# -- through setup() and Settings ------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("restore_logging")


def make_settings(tmp_path: Path, **docs: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}, docs=docs
    )


async def test_setup_serves_the_assets_when_docs_self_hosted_is_set(tmp_path: Path) -> None:
    app = make_app()
    setup(app, make_settings(tmp_path, self_hosted=True))

    async with serve(app) as client:
        page = await client.get("/docs")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        style = await client.get("/docs/assets/swagger-ui.css")
        scrape = await client.get("/metrics")

    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text
    assert page.headers["content-security-policy"] == SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY
    assert CDN not in page.headers["content-security-policy"]
    assert script.status_code == style.status_code == 200
    # Measured under one route label for every asset, never one per file.
    assert 'http_route="/docs/assets/{path}"' in scrape.text
    assert "swagger-ui" not in scrape.text


async def test_setup_keeps_the_cdn_by_default(tmp_path: Path) -> None:
    app = make_app()
    setup(app, make_settings(tmp_path))

    async with serve(app) as client:
        page = await client.get("/docs")
        assets = await client.get("/docs/assets/swagger-ui.css")

    assert CDN in page.text
    assert page.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert assets.status_code == 404


async def test_setup_keeps_a_docs_policy_of_your_own(tmp_path: Path) -> None:
    app = make_app()
    settings = make_settings(tmp_path, self_hosted=True)
    settings.security_headers.docs_content_security_policy = "default-src 'self'"
    setup(app, settings)

    async with serve(app) as client:
        page = await client.get("/docs")

    assert page.headers["content-security-policy"] == "default-src 'self'"


async def test_setup_reads_the_assets_path_and_directory(tmp_path: Path, own_assets: Path) -> None:
    app = make_app(redoc_url=None)
    settings = make_settings(
        tmp_path, self_hosted=True, assets_path="/ui", assets_directory=str(own_assets)
    )
    setup(app, settings)

    async with serve(app) as client:
        page = await client.get("/docs")
        script = await client.get("/ui/swagger-ui-bundle.js")

    assert '<script src="/ui/swagger-ui-bundle.js">' in page.text
    assert script.text == "window.SwaggerUIBundle = null;"


def test_setup_refuses_when_the_block_was_installed_by_hand(tmp_path: Path) -> None:
    app = make_app()
    install_self_hosted_docs(app)

    with pytest.raises(RuntimeError, match="install_self_hosted_docs\\(\\) was already called"):
        setup(app, make_settings(tmp_path, self_hosted=True))


def test_the_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_DOCS__SELF_HOSTED", "true")
    monkeypatch.setenv("FASTAPI_PRO_DOCS__ASSETS_PATH", "/static/docs")

    docs = Settings(_env_file=None).docs  # type: ignore[call-arg]

    assert docs.self_hosted is True
    assert docs.assets_path == "/static/docs"
    assert docs.assets_directory is None


@pytest.mark.parametrize("path", ["static/docs", "/static/docs/", "/", "//cdn.example.com"])
def test_an_assets_path_that_is_not_an_absolute_folder_is_refused(path: str) -> None:
    with pytest.raises(ValidationError, match=r"docs\.assets_path"):
        Settings(_env_file=None, docs={"assets_path": path})  # type: ignore[call-arg]


async def test_the_how_to_example_serves_its_own_assets() -> None:
    app = load("self_hosted_docs_app").app

    async with client_for(app) as client:
        page = await client.get("/docs")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")

    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text
    assert '"tryItOutEnabled": true' in page.text
    assert script.status_code == 200
