"""`install_self_hosted_docs`: Swagger UI and ReDoc with their JavaScript and CSS served by the app.

FastAPI's ``/docs`` and ``/redoc`` pages load their scripts from a public CDN, so a service in
a closed network shows a blank page. This serves the files from the app itself, under
``<docs_url>/assets`` by default; the ``self-hosted-docs`` extra brings them
(``pip install 'fastapi-pro[self-hosted-docs]'``).

```python
from fastapi import FastAPI
from fastapi_pro.self_hosted_docs import install_self_hosted_docs

app = FastAPI()
install_self_hosted_docs(app)
```
"""

from __future__ import annotations

import importlib.resources
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fastapi_pro._shared.state import SELF_HOSTED_DOCS

SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
"""The files the Swagger UI page loads from the assets directory."""

REDOC_FILES = ("redoc.standalone.js",)
"""The file the ReDoc page loads from the assets directory."""

FAVICON = "favicon.png"
"""The pages' icon, served when the assets directory has one."""

ASSETS_ROUTE_NAME = "self_hosted_docs_assets"
"""The name of the assets route, for ``request.url_for(ASSETS_ROUTE_NAME, path=...)``."""

ASSETS_PATH_PATTERN = r"(/[A-Za-z0-9._~-]+)+"
"""What an assets path looks like: ``/docs/assets``; never ``//host``, which leaves the app."""


_EXTRA = "pip install 'fastapi-pro[self-hosted-docs]'"
_PATH = re.compile(ASSETS_PATH_PATTERN)
_NO_FAVICON = "data:,"  # an empty icon: the browser asks nobody for one


@dataclass(frozen=True, slots=True)
class _Assets:
    """Where the pages find the files: ``path`` below the request's root path."""

    path: str
    favicon: bool

    def url(self, request: Request, name: str) -> str:
        if name == FAVICON and not self.favicon:
            return _NO_FAVICON
        return f"{_root(request)}{self.path}/{name}"


def install_self_hosted_docs(
    app: FastAPI,
    *,
    path: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> None:
    """Serve ``app``'s Swagger UI and ReDoc pages with assets from the app, not from a CDN.

    The pages keep FastAPI's behaviour: ``docs_url``, ``redoc_url``, ``openapi_url``, the
    OAuth2 redirect page, ``swagger_ui_init_oauth``, ``swagger_ui_parameters`` and the request's
    root path. A page the app turned off (``docs_url=None``) stays off. The assets are kept out
    of the OpenAPI document.

    Args:
        app: A FastAPI app with its docs pages as FastAPI made them.
        path: Where the assets are served; ``<docs_url>/assets`` (or ``<redoc_url>/assets``)
            when omitted.
        directory: A directory holding ``swagger-ui-bundle.js`` and ``swagger-ui.css`` (and
            ``redoc.standalone.js`` when ReDoc is on, ``favicon.png`` if you like); the
            ``self-hosted-docs`` extra's files when omitted.

    Raises:
        RuntimeError: If this was already called for ``app``, the ``self-hosted-docs`` extra is
            missing, or ``directory`` lacks a file a page needs.
        ValueError: If ``path`` is not a folder below ``/``.
    """
    SELF_HOSTED_DOCS.check(app)
    pages = _pages(app)
    if not pages:
        return  # FastAPI serves no docs page for this app
    folder = Path(directory) if directory is not None else _extra_directory()
    _check_files(folder, pages)
    assets = _Assets(_assets_path(app, path), favicon=(folder / FAVICON).is_file())
    routes = app.router.routes
    indexes = []
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path in pages and not route.include_in_schema:
            routes[index] = Route(route.path, pages[route.path](app, assets), name=route.name)
            indexes.append(index)
    static = StaticFiles(directory=folder, follow_symlink=False)
    routes.insert(min(indexes, default=0), Mount(assets.path, static, name=ASSETS_ROUTE_NAME))
    SELF_HOSTED_DOCS.set_once(app)


_Page = Callable[[FastAPI, _Assets], Callable[[Request], Awaitable[HTMLResponse]]]


def _pages(app: FastAPI) -> dict[str, _Page]:
    """The docs pages FastAPI serves for ``app``, by path: none without an OpenAPI document."""
    pages: dict[str, _Page] = {}
    if app.openapi_url and app.docs_url:
        pages[app.docs_url] = _swagger_ui_page
    if app.openapi_url and app.redoc_url:
        pages[app.redoc_url] = _redoc_page
    return pages


def _extra_directory() -> Path:
    try:
        package = importlib.resources.files("fastapi_offline")
    except ModuleNotFoundError:
        msg = f"Self-hosted docs need the Swagger UI and ReDoc files: {_EXTRA}"
        raise RuntimeError(msg) from None
    return Path(str(package.joinpath("static")))


def _check_files(folder: Path, pages: dict[str, _Page]) -> None:
    needed: dict[_Page, tuple[str, ...]] = {
        _swagger_ui_page: SWAGGER_UI_FILES,
        _redoc_page: REDOC_FILES,
    }
    names = [name for page in pages.values() for name in needed[page]]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        msg = (
            f"The docs assets directory {str(folder)!r} lacks {', '.join(missing)}. Install the "
            f"files ({_EXTRA}), or point `directory` at a copy of them."
        )
        raise RuntimeError(msg)


def _assets_path(app: FastAPI, path: str | None) -> str:
    if path is None:
        page = app.docs_url if app.docs_url else app.redoc_url
        path = f"{(page or '').rstrip('/')}/assets"
    path = path.rstrip("/")
    if _PATH.fullmatch(path) is None:
        msg = (
            "The docs assets path must be a folder below '/' named with letters, digits "
            f"and . _ ~ -, such as '/docs/assets'; got {path[:100]!r}."
        )
        raise ValueError(msg)
    return path


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _swagger_ui_page(app: FastAPI, assets: _Assets) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def swagger_ui_html(request: Request) -> HTMLResponse:
        root = _root(request)
        redirect = app.swagger_ui_oauth2_redirect_url
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=assets.url(request, "swagger-ui-bundle.js"),
            swagger_css_url=assets.url(request, "swagger-ui.css"),
            swagger_favicon_url=assets.url(request, FAVICON),
            oauth2_redirect_url=f"{root}{redirect}" if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    return swagger_ui_html


def _redoc_page(app: FastAPI, assets: _Assets) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def redoc_html(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=f"{_root(request)}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=assets.url(request, "redoc.standalone.js"),
            redoc_favicon_url=assets.url(request, FAVICON),
            with_google_fonts=False,
        )

    return redoc_html


__all__ = [
    "ASSETS_PATH_PATTERN",
    "ASSETS_ROUTE_NAME",
    "FAVICON",
    "REDOC_FILES",
    "SWAGGER_UI_FILES",
    "install_self_hosted_docs",
]
