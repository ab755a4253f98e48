from __future__ import annotations

from unittest.mock import patch

import httpx
import pytest
from fastapi import FastAPI
from fastapi.security import SecurityScopes
from starlette.requests import HTTPConnection
from starlette.types import Message

from fastapi_pro.auth import (
    ApiKeyOrBearer,
    ApiKeys,
    Auth,
    CurrentPrincipal,
    InMemoryApiKeyStore,
    Principal,
    Tokens,
    api_key_or_bearer_principal,
    current_principal,
    current_user,
    enforce_grants,
    optional_user,
    require_scopes,
)
from tests.auth.helpers import (
    User,
    bearer,
    claims,
    client_for,
    load_user,
    make_app,
    make_tokens,
    sign,
)


async def test_missing_scope_is_a_403_insufficient_scope() -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/orders", headers=bearer(sign(claims(scope="orders:read"))))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="orders:write"'
    )
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["required"] == ["orders:write"]


async def test_granted_scopes_pass() -> None:
    token = sign(claims(scope="orders:read orders:write"))
    async with client_for(make_app()) as client:
        listed = await client.get("/orders", headers=bearer(token))
        created = await client.post("/orders", headers=bearer(token))

    assert listed.json() == [1, 2]
    assert created.json() == {"by": "alice"}


async def test_roles_are_required_like_scopes() -> None:
    async with client_for(make_app()) as client:
        refused = await client.get("/admin", headers=bearer(sign(claims(roles=["staff"]))))
        allowed = await client.get("/admin", headers=bearer(sign(claims(roles=["admin"]))))

    assert refused.status_code == 403
    assert refused.json()["required"] == ["role:admin"]
    assert allowed.json() == {"admin": True}


async def test_scope_checks_still_need_credentials_first() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/orders")

    assert response.status_code == 401


async def test_current_user_is_loaded_through_the_registered_loader() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/profile", headers=bearer(sign(claims(sub="bob"))))

    assert response.json() == {"name": "Bob"}


async def test_a_valid_token_for_a_vanished_user_is_a_401() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/profile", headers=bearer(sign(claims(sub="mallory"))))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_optional_dependencies_give_none_without_credentials_but_401_for_bad_ones() -> None:
    async with client_for(make_app()) as client:
        anonymous = await client.get("/maybe")
        anonymous_user = await client.get("/greeting")
        signed_in = await client.get("/greeting", headers=bearer(sign(claims())))
        bad = await client.get("/greeting", headers=bearer("not-a-token"))

    assert anonymous.json() == {"subject": None}
    assert anonymous_user.json() == {"hello": "stranger"}
    assert signed_in.json() == {"hello": "Alice"}
    assert bad.status_code == 401


async def test_the_token_is_verified_once_per_request() -> None:
    app = make_app()
    token = sign(claims(scope="orders:read orders:write"))
    with patch.object(Tokens, "verify", autospec=True, side_effect=Tokens.verify) as verify:
        async with client_for(app) as client:
            await client.post("/orders", headers=bearer(token))

    assert verify.call_count == 1


async def test_without_installed_auth_the_error_says_what_to_do() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> None:
        return None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"auth.install\(app\)"):
            await client.get("/me", headers=bearer("x"))


def test_openapi_documents_the_password_flow_with_the_required_scopes() -> None:
    schema = make_app().openapi()

    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert set(scheme["flows"]["password"]["scopes"]) == {"orders:read", "orders:write"}
    assert schema["paths"]["/orders"]["post"]["security"] == [
        {"BearerToken": ["orders:write", "orders:read"]}
    ]
    assert schema["paths"]["/admin"]["get"]["security"] == [{"BearerToken": ["role:admin"]}]


async def ws_call(app: FastAPI, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []
    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": headers,
        "scheme": "ws",
        "server": ("test", 80),
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_websocket_routes_authenticate_and_close_1008_on_failure() -> None:
    app = make_app()
    token = sign(claims())

    accepted = await ws_call(app, [(b"authorization", f"Bearer {token}".encode())])
    refused = await ws_call(app, [(b"authorization", b"Bearer forged")])
    missing = await ws_call(app, [])

    assert accepted[0]["type"] == "websocket.accept"
    assert '"subject":"alice"' in accepted[1]["text"]
    for messages in (refused, missing):
        assert messages[0]["type"] == "websocket.close"
        assert messages[0]["code"] == 1008
        assert "forged" not in messages[0]["reason"]


PEPPER = "p" * 32


def api_key_app() -> tuple[FastAPI, ApiKeys, InMemoryApiKeyStore]:
    store = InMemoryApiKeyStore()
    keys = ApiKeys(store, pepper=PEPPER)
    app = make_app(Auth(make_tokens(), user_loader=load_user, api_keys=keys))

    @app.get("/reports", dependencies=[require_scopes("reports:read", api_key=True)])
    async def reports() -> list[str]:
        return ["q1"]

    @app.get("/whoami")
    async def whoami(principal: ApiKeyOrBearer) -> dict[str, str]:
        return {"subject": principal.subject, "method": principal.method}

    return app, keys, store


async def test_api_key_or_bearer_yields_one_principal() -> None:
    app, keys, store = api_key_app()
    key, record = keys.generate("service-a", scopes=["reports:read"])
    store.add(record)

    async with client_for(app) as client:
        by_key = await client.get("/whoami", headers={"X-API-Key": key})
        by_token = await client.get("/whoami", headers=bearer(sign(claims())))
        scoped = await client.get("/reports", headers={"X-API-Key": key})
        nothing = await client.get("/whoami")

    assert by_key.json() == {"subject": "service-a", "method": "api_key"}
    assert by_token.json() == {"subject": "alice", "method": "bearer"}
    assert scoped.json() == ["q1"]
    assert nothing.status_code == 401


async def test_api_keys_without_the_scope_get_a_403() -> None:
    app, keys, store = api_key_app()
    key, record = keys.generate("service-b")
    store.add(record)

    async with client_for(app) as client:
        response = await client.get("/reports", headers={"X-API-Key": key})

    assert response.status_code == 403


def test_both_schemes_appear_in_openapi() -> None:
    app, _, _ = api_key_app()
    schema = app.openapi()

    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schema["paths"]["/whoami"]["get"]["security"] == [{"BearerToken": []}, {"ApiKey": []}]


async def test_an_api_key_sent_where_keys_are_not_enabled_is_a_401_not_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Auth(make_tokens(), user_loader=load_user))

    @app.get("/keyed", dependencies=[require_scopes(api_key=True)])
    async def keyed() -> None:
        return None

    async with client_for(app) as client:
        response = await client.get("/keyed", headers={"X-API-Key": "fpk_00_whatever"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert any("API keys are not enabled" in r.getMessage() for r in caplog.records)


async def test_failure_listeners_hear_the_code_of_each_refusal_over_http_and_websocket() -> None:
    auth = Auth(make_tokens(), user_loader=load_user)
    codes: list[str] = []
    auth.add_failure_listener(codes.append)
    app = make_app(auth)
    async with client_for(app) as client:
        await client.get("/me")
        await client.get("/me", headers=bearer("forged"))
        await client.post("/orders", headers=bearer(sign(claims(scope="orders:read"))))
        await client.get("/me", headers=bearer(sign(claims())))
    await ws_call(app, [(b"authorization", b"Bearer forged")])

    assert codes == ["unauthorized", "invalid_token", "insufficient_scope", "invalid_token"]


async def test_the_exported_dependencies_are_the_ones_behind_the_aliases() -> None:
    app, _, _ = api_key_app()
    app.dependency_overrides[current_user] = lambda: User("carol", "Carol")
    app.dependency_overrides[optional_user] = lambda: User("dave", "Dave")
    app.dependency_overrides[api_key_or_bearer_principal] = lambda: Principal("service-c")
    async with client_for(app) as client:
        profile = await client.get("/profile")
        greeting = await client.get("/greeting")
        whoami = await client.get("/whoami")

    assert profile.json() == {"name": "Carol"}
    assert greeting.json() == {"hello": "Dave"}
    assert whoami.json() == {"subject": "service-c", "method": "bearer"}


async def test_a_replacement_that_enforces_grants_keeps_the_routes_requirements() -> None:
    auth = Auth(make_tokens(), user_loader=load_user)
    codes: list[str] = []
    auth.add_failure_listener(codes.append)
    app = make_app(auth)

    async def the_reader(security_scopes: SecurityScopes, connection: HTTPConnection) -> Principal:
        reader = Principal("reader", scopes=frozenset({"orders:read"}), roles=frozenset({"staff"}))
        enforce_grants(connection, reader, security_scopes.scopes)
        return reader

    app.dependency_overrides[current_principal] = the_reader
    async with client_for(app) as client:
        listed = await client.get("/orders")
        created = await client.post("/orders")
        admin = await client.get("/admin")

    assert listed.json() == [1, 2]
    assert created.status_code == 403
    assert created.json()["required"] == ["orders:write"]
    assert admin.status_code == 403
    assert admin.json()["required"] == ["role:admin"]
    assert codes == ["insufficient_scope", "insufficient_scope"]
