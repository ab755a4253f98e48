"""Apps the browser tests serve under uvicorn, in a process of their own.

``uvicorn --factory tests.self_hosted_docs_apps:with_setup`` builds the app from the
``FASTAPI_PRO_*`` variables the test passes, as a service would.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from fastapi_pro import Settings, setup
from fastapi_pro.self_hosted_docs import install_self_hosted_docs

ROOT_PATH = "/api"
"""Where `behind_prefix` mounts the API, as a proxy that strips a prefix would."""


def widgets() -> FastAPI:
    app = FastAPI(title="Widgets")

    @app.get("/widgets", summary="List the widgets")
    async def list_widgets() -> list[str]:
        return ["sprocket"]

    @app.post("/widgets/{widget_id}/polish", summary="Polish a widget")
    async def polish(widget_id: int) -> dict[str, int]:
        return {"polished": widget_id}

    return app


def with_setup() -> FastAPI:
    """`setup()` with the settings of the environment: ``FASTAPI_PRO_DOCS__SELF_HOSTED``."""
    app = widgets()
    setup(app, Settings(_env_file=None), logging=False)  # type: ignore[call-arg]
    return app


def behind_prefix() -> Starlette:
    """A plain app with `install_self_hosted_docs`, served below `ROOT_PATH`."""
    app = widgets()
    install_self_hosted_docs(app)
    return Starlette(routes=[Mount(ROOT_PATH, app)])
