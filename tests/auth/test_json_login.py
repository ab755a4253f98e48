"""The token endpoint's JSON login body, beside the OAuth2 form, through real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_pro.auth import Auth, JsonLogin, PasswordHasher, Principal, password_flow_router
from fastapi_pro.errors import install_error_handlers
from tests.auth.helpers import client_for, load_user, make_tokens

HASHER = PasswordHasher.owasp_minimum()
USER_LOGIN = JsonLogin(identifier=("user", "email"), password=("user", "password"))


class Accounts:
    """Accounts by email, with the timing-safe, rehash-on-login check an app writes."""

    def __init__(self) -> None:
        self.hashes = {"alice@example.com": HASHER.hasher.hash("wonderland")}
        self.dummy_verifications = 0

    async def authenticate(self, email: str, password: str) -> Principal | None:
        stored = self.hashes.get(email)
        if stored is None:
            self.dummy_verifications += 1
            await HASHER.verify_dummy(password)
            return None
        valid, new_hash = await HASHER.verify_and_update(password, stored)
        if new_hash is not None:
            self.hashes[email] = new_hash
        return Principal(email) if valid else None


def make_app(accounts: Accounts, refusals: list[str] | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    auth = Auth(make_tokens(), user_loader=load_user)
    if refusals is not None:
        auth.add_failure_listener(refusals.append)
    auth.install(app, token_url="/auth/token")
    app.include_router(password_flow_router(accounts.authenticate, json_login=USER_LOGIN))
    return app


async def json_login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", json={"user": {"email": email, "password": password}})


def stable(response: httpx.Response) -> dict[str, Any]:
    """The problem body without the members that differ per request."""
    body: dict[str, Any] = response.json()
    return {key: value for key, value in body.items() if key not in {"instance", "request_id"}}


async def test_a_json_login_returns_a_token_pair() -> None:
    async with client_for(make_app(Accounts())) as client:
        response = await json_login(client, "alice@example.com", "wonderland")

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert response.json()["access_token"].count(".") == 2


async def test_the_form_keeps_working_on_the_same_endpoint() -> None:
    async with client_for(make_app(Accounts())) as client:
        form = {"username": "alice@example.com", "password": "wonderland"}
        response = await client.post("/auth/token", data=form)

    assert response.status_code == 200
    assert response.json()["access_token"].count(".") == 2


async def test_a_wrong_password_and_an_unknown_user_are_refused_alike() -> None:
    accounts = Accounts()
    async with client_for(make_app(accounts)) as client:
        wrong = await json_login(client, "alice@example.com", "not-wonderland")
        unknown = await json_login(client, "nobody@example.com", "not-wonderland")

    assert wrong.status_code == unknown.status_code == 400
    assert stable(wrong) == stable(unknown)
    assert wrong.json()["error"] == "invalid_grant"
    assert accounts.dummy_verifications == 1


async def test_a_json_login_upgrades_an_outdated_hash() -> None:
    accounts = Accounts()
    accounts.hashes["alice@example.com"] = BcryptHasher().hash("wonderland")
    async with client_for(make_app(accounts)) as client:
        response = await json_login(client, "alice@example.com", "wonderland")

    assert response.status_code == 200
    assert accounts.hashes["alice@example.com"].startswith("$argon2id$")


async def test_refused_json_logins_reach_the_failure_listeners() -> None:
    refusals: list[str] = []
    async with client_for(make_app(Accounts(), refusals)) as client:
        for _ in range(3):
            await json_login(client, "alice@example.com", "guess")
        await client.post("/auth/token", json={"user": {}})

    assert refusals == ["invalid_grant"] * 3 + ["invalid_request"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"user": {"email": "alice@example.com", "password": "wonderland"',
        b"[]",
        b'{"user": "alice@example.com"}',
        b'{"user": {"email": "alice@example.com"}}',
        b'{"user": {"email": "alice@example.com", "password": 12345}}',
        b'{"user": {"email": "", "password": "wonderland"}}',
        b"[" * 5000 + b"]" * 5000,
        b'{"email": "alice@example.com", "password": "wonderland"}',
    ],
)
async def test_a_malformed_json_login_is_an_invalid_request(content: bytes) -> None:
    async with client_for(make_app(Accounts())) as client:
        response = await client.post(
            "/auth/token", content=content, headers={"content-type": "application/json"}
        )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == "invalid_request"
    assert "wonderland" not in response.text


async def test_a_json_login_that_is_not_utf8_is_a_malformed_body() -> None:
    content = '{"user": {"email": "a@example.com", "password": "wonderland"}}'.encode("utf-16")
    async with client_for(make_app(Accounts())) as client:
        response = await client.post(
            "/auth/token", content=content, headers={"content-type": "application/json"}
        )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_body"
    assert "wonderland" not in response.text


async def test_a_json_content_type_with_parameters_is_json() -> None:
    async with client_for(make_app(Accounts())) as client:
        response = await client.post(
            "/auth/token",
            content=b'{"user": {"email": "alice@example.com", "password": "wonderland"}}',
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )

    assert response.status_code == 200


def test_openapi_documents_the_form_and_the_json_body() -> None:
    body = make_app(Accounts()).openapi()["paths"]["/auth/token"]["post"]["requestBody"]

    assert "application/x-www-form-urlencoded" in body["content"]
    user = body["content"]["application/json"]["schema"]["properties"]["user"]
    assert body["content"]["application/json"]["schema"]["required"] == ["user"]
    assert user["required"] == ["email", "password"]
    assert user["properties"]["password"]["format"] == "password"


def test_without_a_json_login_only_the_form_is_documented() -> None:
    app = FastAPI()
    app.include_router(password_flow_router(Accounts().authenticate))

    body = app.openapi()["paths"]["/auth/token"]["post"]["requestBody"]
    assert list(body["content"]) == ["application/x-www-form-urlencoded"]


@pytest.mark.parametrize(
    ("identifier", "password"), [((), ("password",)), (("login",), ("login",))]
)
def test_empty_or_clashing_paths_are_refused_at_start_up(
    identifier: tuple[str, ...], password: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="two distinct, non-empty paths"):
        JsonLogin(identifier=identifier, password=password)
