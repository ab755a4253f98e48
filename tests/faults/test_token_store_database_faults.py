"""The SQL token store with PostgreSQL refusing or black-holing its connections, through a proxy.

Every route of the password flow answers the problem its OpenAPI document names (503
``token_store_unavailable`` with ``Retry-After``), whichever store the app was given: the
database's own outage problem never reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal, Principal, SqlTokenStore, password_flow_router
from fastapi_pro.db import Database
from tests.faults.proxy import FaultProxy
from tests.servers import in_process as serve

pytestmark = pytest.mark.postgres

SECRET = "a-test-signing-secret-of-32-bytes-or-more"
FAULTS = ["refuse", "blackhole"]

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@pytest.fixture
async def store_url(postgres_database: str) -> str:
    """A scratch database holding the store's tables (made directly, not through the proxy)."""
    database = Database(postgres_database)
    await SqlTokenStore(database).create_tables()
    await database.dispose()
    return postgres_database


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FaultProxy]:
    upstream = make_url(postgres_url)
    with FaultProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as running:
        yield running


async def _authenticate(username: str, password: str) -> Principal | None:
    return Principal(subject=username) if password == "right" else None


def make_app(url: str) -> FastAPI:
    """The password flow on the SQL token store, with small bounds on every database call."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        auth={"secret_key": SECRET, "token_store": "database", "check_denylist": True},  # type: ignore[arg-type]
        database={  # type: ignore[arg-type]
            "url": url,
            "pool_size": 2,
            "max_overflow": 0,
            "pool_timeout": 0.5,
            "connect_timeout": 0.5,
            "statement_timeout": 0.5,
            "command_timeout": 0.5,
        },
    )
    app = FastAPI()
    app.include_router(password_flow_router(_authenticate))

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    setup(app, settings, health=False, logging=False, observability=False)
    return app


async def login(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": username, "password": "right"})


def calls(tokens: dict[str, Any]) -> dict[str, tuple[str, Call]]:
    """Every route of the flow, by name: its path and a call given a pair issued earlier."""
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = tokens["refresh_token"]
    return {
        "login": ("/auth/token", lambda c: login(c, "ada")),
        "refresh": (
            "/auth/token",
            lambda c: c.post(
                "/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
            ),
        ),
        "logout": (
            "/auth/logout",
            lambda c: c.post("/auth/logout", json={"refresh_token": refresh}),
        ),
        "logout-all": ("/auth/logout-all", lambda c: c.post("/auth/logout-all", headers=bearer)),
    }


def documented_codes(
    openapi: dict[str, Any], path: str, status: int, method: str = "post"
) -> set[str]:
    """The problem codes the OpenAPI document lists for ``method path`` answering ``status``."""
    response = openapi["paths"][path][method]["responses"].get(str(status), {})
    return {
        example["value"]["code"]
        for content in response.get("content", {}).values()
        for example in content.get("examples", {}).values()
    }


def break_database(proxy: FaultProxy, fault: str) -> None:
    proxy.refuse() if fault == "refuse" else proxy.blackhole()


def assert_logged_once_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    """One warning line per kind of failure, not one per request, and no traceback logged."""
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    kinds = [line.split(": ")[1] for line in lines]
    assert lines, "the outage was not logged"
    assert len(set(kinds)) == len(kinds), lines
    assert {r.name for r in caplog.records if r.levelno >= logging.WARNING} == {"fastapi_pro.db"}


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_database_outage_answers_the_documented_token_store_problem(
    fault: str, store_url: str, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(store_url).set(host="127.0.0.1", port=proxy.port)
    app = make_app(url.render_as_string(hide_password=False))
    caplog.set_level(logging.INFO)
    async with serve(app) as client:
        openapi = (await client.get("/openapi.json")).json()
        before = await login(client, "ada")
        assert before.status_code == 200, before.text
        break_database(proxy, fault)
        for name, (path, call) in [*calls(before.json()).items()] * 2:
            response = await call(client)
            assert response.status_code == 503, (name, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) >= 1
            code = response.json()["code"]
            assert code in documented_codes(openapi, path, 503), (name, code)
            assert code == "token_store_unavailable", name

        proxy.restore()
        after = await login(client, "grace")
        assert after.status_code == 200, after.text
        for name, (_, call) in calls(after.json()).items():
            assert (await call(client)).status_code in (200, 204), name

    assert_logged_once_per_kind(caplog)


async def test_a_protected_route_checking_the_denylist_answers_its_documented_outage(
    store_url: str, proxy: FaultProxy
) -> None:
    """With ``check_denylist``, every bearer route reads the store: its outage is documented."""
    url = make_url(store_url).set(host="127.0.0.1", port=proxy.port)
    app = make_app(url.render_as_string(hide_password=False))
    async with serve(app) as client:
        openapi = (await client.get("/openapi.json")).json()
        token = (await login(client, "ada")).json()["access_token"]
        proxy.refuse()
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    code = response.json()["code"]
    assert code in documented_codes(openapi, "/me", 503, method="get")
