from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from fastapi_pro.auth import (
    Auth,
    CurrentPrincipal,
    PasswordHasher,
    Principal,
    password_flow_router,
)
from fastapi_pro.errors import AuthenticationError, install_error_handlers
from tests.auth.helpers import bearer, client_for, load_user, make_tokens

HASHER = PasswordHasher.owasp_minimum()
PASSWORDS: dict[str, str] = {}


async def authenticate(username: str, password: str) -> Principal | None:
    stored = PASSWORDS.get(username)
    if stored is None:
        await HASHER.verify_dummy(password)
        return None
    if not await HASHER.verify(password, stored):
        return None
    return Principal(username, scopes=frozenset({"orders:read", "orders:write"}))


@pytest.fixture(scope="module", autouse=True)
def accounts() -> None:
    PASSWORDS["alice"] = HASHER.hasher.hash("wonderland")


def make_app(auth: Auth | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    auth = auth or Auth(make_tokens(), user_loader=load_user)
    auth.install(app, token_url="/auth/token", jwks_path="/.well-known/jwks.json")
    app.include_router(password_flow_router(authenticate))

    return app


async def login(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    data = {"username": "alice", "password": "wonderland", **form}
    return await client.post("/auth/token", data=data)


async def test_password_grant_returns_a_token_pair() -> None:
    async with client_for(make_app()) as client:
        response = await login(client)

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "orders:read orders:write"
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"] != body["access_token"]


async def test_requested_scopes_narrow_the_grant() -> None:
    async with client_for(make_app()) as client:
        response = await login(client, scope="orders:read admin")

    assert response.json()["scope"] == "orders:read"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "nobody"}, "invalid_grant"),
        ({"password": ""}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
async def test_bad_logins_are_oauth2_errors(form: dict[str, str], error: str) -> None:
    async with client_for(make_app()) as client:
        response = await login(client, **form)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == error
    assert "wonderland" not in response.text


async def test_refresh_rotates_and_a_replayed_token_revokes_the_family() -> None:
    async with client_for(make_app()) as client:
        first = (await login(client)).json()
        second = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
        replay = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
        after_replay = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]},
        )

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert after_replay.status_code == 400


async def test_logout_revokes_one_session_and_logout_all_every_session() -> None:
    async with client_for(make_app()) as client:
        one, two, three = [(await login(client)).json() for _ in range(3)]
        await client.post("/auth/logout", json={"refresh_token": one["refresh_token"]})
        refused = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": one["refresh_token"]},
        )
        still_fine = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": two["refresh_token"]},
        )
        everywhere = await client.post("/auth/logout-all", headers=bearer(three["access_token"]))
        after = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": three["refresh_token"]},
        )

    assert refused.status_code == 400
    assert still_fine.status_code == 200
    assert everywhere.status_code == 204
    assert after.status_code == 400


async def test_denylisted_access_tokens_are_refused_when_checked() -> None:
    auth = Auth(make_tokens(), user_loader=load_user, check_denylist=True)
    app = make_app(auth)

    @app.get("/secure")
    async def secure(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    async with client_for(app) as client:
        tokens = (await login(client)).json()
        before = await client.get("/secure", headers=bearer(tokens["access_token"]))
        await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))
        after = await client.get("/secure", headers=bearer(tokens["access_token"]))

    assert before.status_code == 200
    assert after.status_code == 401


async def test_jwks_route_publishes_the_public_keys() -> None:
    async with client_for(make_app()) as client:
        document = (await client.get("/.well-known/jwks.json")).json()

    assert {key["kid"] for key in document["keys"]} == {"main", "old"}
    assert all("d" not in key for key in document["keys"])


def test_token_endpoint_is_documented_as_a_form() -> None:
    schema = make_app().openapi()

    body = schema["paths"]["/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in body


async def test_an_oversized_form_is_refused_without_reading_it_all() -> None:
    received = 0

    async def flood() -> AsyncIterator[bytes]:
        nonlocal received
        for _ in range(1000):
            received += 1
            yield b"x" * 1024

    async with client_for(make_app()) as client:
        response = await client.post(
            "/auth/token",
            content=flood(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert received < 50


async def test_a_token_granted_no_scope_has_no_scope_member() -> None:
    async def no_scopes(username: str, password: str) -> Principal | None:
        return Principal(username) if (username, password) == ("bob", "builder") else None

    app = FastAPI()
    install_error_handlers(app)
    Auth(make_tokens()).install(app)
    app.include_router(password_flow_router(no_scopes))
    async with client_for(app) as client:
        response = await client.post("/auth/token", data={"username": "bob", "password": "builder"})

    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}


async def test_a_401_the_app_raises_challenges_like_the_librarys_own() -> None:
    app = FastAPI()
    install_error_handlers(app)
    Auth(make_tokens(realm="orders")).install(app)

    @app.get("/mine")
    async def mine() -> None:
        raise AuthenticationError("Sign in to see your orders.")

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> str:
        return principal.subject

    async with client_for(app) as client:
        raised = await client.get("/mine")
        library = await client.get("/me")

    assert raised.status_code == library.status_code == 401
    assert raised.headers["www-authenticate"] == 'Bearer realm="orders"'
    assert library.headers["www-authenticate"] == 'Bearer realm="orders"'
