"""The examples the how-to guides include run as written."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import func, select, update

from fastapi_pro import Settings
from fastapi_pro.auth import JWKSKeySource, Key
from fastapi_pro.db import Base, Database
from tests.test_docs import load

ISSUER = "https://sso.example.com/realms/shop"

idp_users = load("idp_users")  # once: its model joins Base.metadata
Member = idp_users.Member


@pytest.fixture
def provider_key() -> Key:
    return Key.generate("RS256", kid="sso-1")


def provider_token(key: Key, subject: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": subject, "iss": ISSUER, "aud": "invoices", "iat": now, "exp": now + 60}
    return jwt.encode(
        {**payload, **claims}, key.signing_key, "RS256", headers={"kid": key.kid, "typ": "JWT"}
    )


@asynccontextmanager
async def idp_service(
    tmp_path: Path, key: Key
) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    """The how-to's service, verifying tokens of a provider that serves ``key``."""
    provider = FastAPI()

    @provider.get("/realms/shop/protocol/openid-connect/certs")
    async def certs() -> dict[str, object]:
        return {"keys": [key.public_jwk()]}

    settings = Settings(
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'idp.db'}"},
        auth={"issuer": ISSUER, "audience": "invoices"},
        observability={"logging_enabled": False},
    )
    transport = httpx.ASGITransport(app=provider)
    async with httpx.AsyncClient(transport=transport) as http:
        jwks = JWKSKeySource(f"{ISSUER}/protocol/openid-connect/certs", client=http)
        app = idp_users.create_app(settings, jwks=jwks)
        async with LifespanManager(app) as manager:
            await Database.of(app).create_all(Base.metadata)
            served = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=served, base_url="http://test") as client:
                yield Database.of(app), client


async def test_a_provider_user_is_provisioned_once_on_first_sight(
    tmp_path: Path, provider_key: Key
) -> None:
    token = provider_token(provider_key, "kc-42", email="ann@example.com", name="Ann")
    headers = {"Authorization": f"Bearer {token}"}
    async with idp_service(tmp_path, provider_key) as (database, client):
        first = await client.get("/me", headers=headers)
        again = await client.get("/me", headers=headers)
        async with database.session() as session:
            members = await session.scalar(select(func.count()).select_from(Member))

    assert first.json() == {"id": 1, "email": "ann@example.com", "name": "Ann"}
    assert again.json() == first.json()
    assert members == 1


async def test_keycloak_realm_roles_are_the_principals_roles(
    tmp_path: Path, provider_key: Key
) -> None:
    accountant = provider_token(provider_key, "kc-1", realm_access={"roles": ["accountant"]})
    clerk = provider_token(provider_key, "kc-2", realm_access={"roles": ["clerk"]})
    async with idp_service(tmp_path, provider_key) as (_, client):
        allowed = await client.get("/invoices", headers={"Authorization": f"Bearer {accountant}"})
        refused = await client.get("/invoices", headers={"Authorization": f"Bearer {clerk}"})

    assert allowed.status_code == 200
    assert refused.json()["code"] == "insufficient_scope"


async def test_a_token_for_another_audience_is_refused(tmp_path: Path, provider_key: Key) -> None:
    token = provider_token(provider_key, "kc-1", aud="another-api")
    async with idp_service(tmp_path, provider_key) as (database, client):
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        async with database.session() as session:
            members = await session.scalar(select(func.count()).select_from(Member))

    assert response.json()["code"] == "invalid_token"
    assert members == 0


migrated_users = load("migrated_users")


@asynccontextmanager
async def migrated_service(tmp_path: Path) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    settings = Settings(
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"},
        observability={"logging_enabled": False},
    )
    app = migrated_users.create_app(settings)
    async with LifespanManager(app) as manager:
        await Database.of(app).create_all(Base.metadata)
        served = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=served, base_url="http://test") as client:
            yield Database.of(app), client


async def add_user(database: Database, email: str, password_hash: str, **flags: bool) -> None:
    async with database.session() as session:
        session.add(migrated_users.User(email=email, hashed_password=password_hash, **flags))


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def test_a_legacy_bcrypt_hash_logs_in_and_is_replaced_by_argon2(tmp_path: Path) -> None:
    legacy = BcryptHasher().hash("old password")  # what fastapi-users stored before Argon2
    async with migrated_service(tmp_path) as (database, client):
        await add_user(database, "Ann@Example.com", legacy)
        login = await log_in(client, "ann@example.com", "old password")
        token = login.json()["access_token"]
        me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        async with database.session() as session:
            stored = await session.scalar(select(migrated_users.User.hashed_password))

    assert me.json()["email"] == "Ann@Example.com"
    assert stored is not None
    assert stored.startswith("$argon2id$")


async def test_an_inactive_account_neither_logs_in_nor_uses_its_tokens(tmp_path: Path) -> None:
    async with migrated_service(tmp_path) as (database, client):
        await add_user(database, "ann@example.com", PasswordHash.recommended().hash("pw"))
        token = (await log_in(client, "ann@example.com", "pw")).json()["access_token"]
        async with database.session() as session:
            await session.execute(update(migrated_users.User).values(is_active=False))
        refused_login = await log_in(client, "ann@example.com", "pw")
        refused_token = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert refused_login.json()["error"] == "invalid_grant"
    assert refused_token.status_code == 401


async def test_superusers_get_the_superuser_role(tmp_path: Path) -> None:
    password_hash = PasswordHash.recommended().hash("pw")
    async with migrated_service(tmp_path) as (database, client):
        await add_user(database, "root@example.com", password_hash, is_superuser=True)
        await add_user(database, "ann@example.com", password_hash)
        root = (await log_in(client, "root@example.com", "pw")).json()["access_token"]
        ann = (await log_in(client, "ann@example.com", "pw")).json()["access_token"]
        allowed = await client.get("/admin/stats", headers={"Authorization": f"Bearer {root}"})
        refused = await client.get("/admin/stats", headers={"Authorization": f"Bearer {ann}"})

    assert allowed.status_code == 200
    assert refused.status_code == 403


sessions_after = load("sessions_after")


@asynccontextmanager
async def sessions_service(tmp_path: Path) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    settings = Settings(database={"url": f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"})
    app = sessions_after.create_app(settings)
    async with LifespanManager(app) as manager:
        await Database.of(app).create_all(Base.metadata)
        served = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=served, base_url="http://test") as client:
            yield Database.of(app), client


async def test_a_write_that_fails_at_commit_is_a_409_not_a_201(tmp_path: Path) -> None:
    async with sessions_service(tmp_path) as (database, client):
        first = await client.post("/accounts/import", json=["ann@example.com"])
        again = await client.post("/accounts/import", json=["bob@example.com", "ann@example.com"])
        async with database.session() as session:
            emails = list(await session.scalars(select(sessions_after.Account.email)))

    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["code"] == "unique_violation"
    assert emails == ["ann@example.com"]  # bob's row was rolled back with ann's duplicate


async def test_a_taken_email_is_the_services_own_problem(tmp_path: Path) -> None:
    async with sessions_service(tmp_path) as (_, client):
        await client.post("/accounts", params={"email": "ann@example.com"})
        again = await client.post("/accounts", params={"email": "ann@example.com"})

    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


existing_api = load("existing_api")


@asynccontextmanager
async def existing_service() -> AsyncIterator[httpx.AsyncClient]:
    """The migration guide's app, as its clients meet it: HTTP only."""
    settings = Settings(
        auth={"schemes": ["Token"], "secret_key": "a-test-signing-secret-of-32-bytes-or-more"},
        observability={"logging_enabled": False},
        database={"url": "sqlite+aiosqlite:///:memory:"},
    )
    existing_api.hashes_by_email.clear()
    app = existing_api.create_app(settings)
    async with LifespanManager(app) as manager:
        served = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=served, base_url="http://test") as client:
            yield client


ANN = {"user": {"email": "ann@example.com", "password": "correct horse"}}


async def test_the_existing_contract_registers_and_logs_in_with_json(tmp_path: Path) -> None:
    async with existing_service() as client:
        registered = await client.post("/api/users", json=ANN)
        login = await client.post("/api/users/token", json=ANN)
        token = login.json()["access_token"]
        me = await client.get("/api/user", headers={"Authorization": f"Token {token}"})

    assert registered.status_code == 201
    assert login.status_code == 200
    assert me.json() == {"email": "ann@example.com"}


async def test_the_existing_contract_gets_errors_in_its_own_shape(tmp_path: Path) -> None:
    async with existing_service() as client:
        await client.post("/api/users", json=ANN)
        taken = await client.post("/api/users", json=ANN)
        missing = await client.post("/api/users", json={"user": {"email": "bo@example.com"}})
        anonymous = await client.get("/api/user")
        unknown = await client.get("/api/profiles/nobody")
        wrong = {"user": {**ANN["user"], "password": "wrong"}}
        refused = await client.post("/api/users/token", json=wrong)

    assert taken.status_code == 422
    assert taken.json() == {"errors": {"email": ["has already been taken"]}}
    assert missing.json() == {"errors": {"password": ["Field required"]}}
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Token realm="api"'
    assert list(anonymous.json()["errors"]) == ["unauthorized"]
    assert unknown.json() == {"errors": {"not_found": ['No profile named "nobody".']}}
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"  # RFC 6749's member, beside "errors"
    assert list(refused.json()["errors"]) == ["invalid_grant"]


async def test_the_existing_contracts_document_describes_its_errors(tmp_path: Path) -> None:
    async with existing_service() as client:
        schema = (await client.get("/openapi.json")).json()

    register = schema["paths"]["/api/users"]["post"]["responses"]["422"]["content"]
    assert register["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldErrorsBody"
    }
    security = schema["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "Authorization"}.items() <= next(
        iter(security.values())
    ).items()
