"""Route labels and skip paths through setup(): mounts, static files and root paths."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import FastAPIDeprecationWarning
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fastapi_pro import Settings, setup
from fastapi_pro.observability._routes import app_path
from tests.servers import Server, serve
from tests.servers import in_process as serve_in_process

DURATION_COUNT = "http_server_request_duration_seconds_count"


pytestmark = pytest.mark.usefixtures("restore_logging")


def _settings(tmp_path: Path) -> Settings:
    database = {"url": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}
    return Settings(_env_file=None, database=database)  # type: ignore[call-arg]


def _routes(exposition: str) -> dict[str, float]:
    """Requests counted per ``http_route`` label."""
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == DURATION_COUNT:
                route = sample.labels["http_route"]
                counted[route] = counted.get(route, 0) + sample.value
    return counted


async def _order(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["order_id"])


def _mounted_app(static: Path) -> FastAPI:
    sub = FastAPI()

    @sub.get("/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id

    app = FastAPI()
    app.mount("/v2", sub)
    tenants = Mount("/tenants/{tenant}", routes=[Route("/orders/{order_id}", _order)])
    app.router.routes.append(tenants)
    app.mount("/static", StaticFiles(directory=static))
    return app


async def test_mounted_apps_and_static_files_are_labelled_by_template(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "site.css").write_text("body {}")
    app = _mounted_app(static)
    setup(app, _settings(tmp_path), auth=False)

    async with serve_in_process(app) as client:
        statuses = [
            (await client.get(path)).status_code
            for path in (
                "/v2/items/7",
                "/v2/items/8",
                "/tenants/acme/orders/41",
                "/tenants/globex/orders/42",
                "/static/site.css",
                "/static/missing.css",
            )
        ]
        scrape = (await client.get("/metrics")).text

    assert statuses == [200, 200, 200, 200, 200, 404]
    assert _routes(scrape) == {
        "/v2/items/{item_id}": 2,
        "/tenants/{tenant}/orders/{order_id}": 2,
        "/static/{path}": 2,
    }


async def test_skip_paths_match_the_whole_path_and_nothing_below_it(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/health/live/{detail}")
    async def detail(detail: str) -> str:
        return detail

    setup(app, _settings(tmp_path), auth=False)

    async with serve_in_process(app) as client:
        await client.get("/health/live")
        await client.get("/health/live/extra")
        await client.get("/metrics")
        scrape = (await client.get("/metrics")).text

    assert _routes(scrape) == {"/health/live/{detail}": 1}


async def test_fastapis_own_root_path_keeps_labels_and_skip_paths_app_relative(
    tmp_path: Path,
) -> None:
    with pytest.warns(FastAPIDeprecationWarning):
        app = FastAPI(root_path="/api")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id

    setup(app, _settings(tmp_path), auth=False)

    async with serve_in_process(app) as client:  # the proxy strips /api before the app
        item_status = (await client.get("/items/3")).status_code
        await client.get("/health/ready")
        scrape = (await client.get("/metrics")).text

    assert item_status == 200
    assert _routes(scrape) == {"/items/{item_id}": 1}


# -- uvicorn --root-path: the server puts the root path in front of scope["path"] ----------------

ROOT_PATH_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from fastapi_pro import setup

    app = FastAPI()


    @app.get("/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id


    sub = FastAPI()


    @sub.get("/things/{thing_id}")
    async def thing(thing_id: int) -> int:
        return thing_id


    app.mount("/v2", sub)
    setup(app, auth=False)
    """
)


@pytest.fixture(scope="module")
def root_path_scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What /metrics shows after requests to a real uvicorn started with ``--root-path /api``."""
    directory = tmp_path_factory.mktemp("root_path")
    (directory / "root_path_app.py").write_text(ROOT_PATH_APP)
    environment = {
        **os.environ,
        "FASTAPI_PRO_DATABASE__URL": f"sqlite+aiosqlite:///{directory / 'app.db'}",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = ["root_path_app:app", "--root-path", "/api"]
    with serve(command, cwd=directory, env=environment) as server:
        yield _scrape_after_requests(server)


def _scrape_after_requests(server: Server) -> str:
    with httpx.Client(base_url=server.url, timeout=10) as client:  # as the proxy forwards them
        for path in ("/items/3", "/v2/things/4", "/health/ready", "/metrics"):
            assert client.get(path).status_code == 200, path
        return client.get("/metrics").text


def test_uvicorn_root_path_leaves_labels_app_relative(root_path_scrape: str) -> None:
    routes = _routes(root_path_scrape)

    assert routes["/items/{item_id}"] == 1
    assert routes["/v2/things/{thing_id}"] == 1
    assert not [route for route in routes if route.startswith("/api")]


def test_uvicorn_root_path_still_skips_the_skip_paths(root_path_scrape: str) -> None:
    routes = _routes(root_path_scrape)

    assert "/metrics" not in routes
    assert "/health/ready" not in routes


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/metrics", "", "/metrics"),
        ("/api/metrics", "/api", "/metrics"),
        ("/api", "/api", "/"),
        ("/metrics", "/api", "/metrics"),  # a root path the server did not put in the path
        ("/apiary/metrics", "/api", "/apiary/metrics"),
    ],
)
def test_app_path_is_the_path_below_the_root_path(path: str, root_path: str, expected: str) -> None:
    scope: dict[str, Any] = {"type": "http", "path": path, "root_path": root_path}

    assert app_path(scope) == expected
