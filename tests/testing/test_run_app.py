"""`run_app` on its own: the database guard over start-up and requests."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fastapi_pro.auth import Auth, JWKSKeySource, Tokens
from fastapi_pro.db import Database
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.testing import TokenFactory, run_app, served_app


def audit_app(test_url: str, other: Database) -> FastAPI:
    app = FastAPI(lifespan=Database(test_url).lifespan)
    install_error_handlers(app)

    @app.post("/audit")
    async def audit() -> dict[str, bool]:
        async with other.session() as session:  # a second, hard-wired database
            await session.execute(text("SELECT 1"))
        return {"written": True}

    return app


async def post_audit(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=served_app(app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/audit")


async def test_a_request_reaching_another_database_is_refused(tmp_path: Path) -> None:
    test_url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'prod_audit.db'}")
    app = audit_app(test_url, other)

    async with run_app(app, database_url=test_url):
        response = await post_audit(app)

    assert response.status_code == 500
    assert not (tmp_path / "prod_audit.db").exists()


async def test_a_further_test_database_can_be_allowed(tmp_path: Path) -> None:
    test_url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"  # the same database, driver or not
    other = Database(audit_url)
    app = audit_app(test_url, other)

    async with run_app(app, database_url=test_url, allow=[audit_url]):
        response = await post_audit(app)
    await other.dispose()

    assert response.json() == {"written": True}


async def test_allow_without_a_test_database_is_refused(tmp_path: Path) -> None:
    app = FastAPI()
    with pytest.raises(ValueError, match="needs database_url"):
        async with run_app(app, allow=[f"sqlite:///{tmp_path / 'x.db'}"]):
            pass


async def test_an_empty_allow_list_of_any_iterable_kind_needs_no_test_database() -> None:
    app = FastAPI()
    async with run_app(app, allow=iter(())) as running:
        assert served_app(running) is not running  # started: requests go through its lifespan


def test_the_token_factory_of_a_verify_only_app_points_to_act_as() -> None:
    app = FastAPI()
    source = JWKSKeySource("https://sso.example.com/jwks")
    Auth(Tokens(None, verify_with=source)).install(app)
    with pytest.raises(RuntimeError, match=r"act_as\(user"):
        TokenFactory(app)("alice")
