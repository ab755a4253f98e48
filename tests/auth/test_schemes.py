"""Authorization schemes other than ``Bearer``: ``Auth(schemes=...)`` and ``auth.schemes``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from fastapi_pro import Settings, setup
from fastapi_pro.auth import ApiKeyOrBearer, ApiKeys, Auth, CurrentPrincipal, InMemoryApiKeyStore
from fastapi_pro.errors import AuthenticationError, install_error_handlers
from fastapi_pro.testing import TokenFactory
from tests.auth.helpers import claims as make_claims
from tests.auth.helpers import client_for, load_user, make_app, make_tokens, sign
from tests.auth.test_dependencies import ws_call
from tests.servers import in_process

TOKEN_FIRST = ("Token", "Bearer")


def token_app(schemes: tuple[str, ...] = TOKEN_FIRST) -> FastAPI:
    return make_app(Auth(make_tokens(), user_loader=load_user, schemes=schemes))


@pytest.mark.parametrize("scheme", ["Token", "token", "TOKEN", "Bearer", "bEaReR"])
async def test_every_accepted_scheme_is_read_in_any_case(scheme: str) -> None:
    async with client_for(token_app()) as client:
        headers = {"Authorization": f"{scheme} {sign(make_claims())}"}
        me = await client.get("/me", headers=headers)
        profile = await client.get("/profile", headers=headers)
        greeting = await client.get("/greeting", headers=headers)

    assert me.json()["subject"] == "alice"
    assert profile.json() == {"name": "Alice"}
    assert greeting.json() == {"hello": "Alice"}


async def test_a_scheme_not_accepted_is_a_401_challenging_with_the_preferred_scheme() -> None:
    async with client_for(token_app(("Token",))) as client:
        refused = await client.get(
            "/me", headers={"Authorization": f"Bearer {sign(make_claims())}"}
        )
        optional = await client.get(
            "/greeting", headers={"Authorization": f"Bearer {sign(make_claims())}"}
        )

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unauthorized"
    assert refused.headers["www-authenticate"] == 'Token realm="api"'
    assert optional.json() == {"hello": "stranger"}


async def test_every_challenge_names_the_preferred_scheme_with_the_same_parameters() -> None:
    async with client_for(token_app()) as client:
        forged = await client.get("/me", headers={"Authorization": "Token forged"})
        scoped = await client.get(
            "/orders", headers={"Authorization": f"Token {sign(make_claims())}"}
        )

    assert forged.headers["www-authenticate"] == 'Token realm="api", error="invalid_token"'
    assert scoped.status_code == 403
    assert scoped.headers["www-authenticate"] == (
        'Token realm="api", error="insufficient_scope", scope="orders:read"'
    )


async def test_by_default_only_bearer_is_read_and_challenges_say_bearer() -> None:
    async with client_for(make_app()) as client:
        token = await client.get("/me", headers={"Authorization": f"Token {sign(make_claims())}"})
        bearer = await client.get("/me", headers={"Authorization": f"bearer {sign(make_claims())}"})

    assert token.status_code == 401
    assert token.headers["www-authenticate"] == 'Bearer realm="api"'
    assert bearer.json()["subject"] == "alice"


async def test_websocket_routes_read_the_accepted_schemes() -> None:
    app = token_app(("Token",))
    token = sign(make_claims())

    accepted = await ws_call(app, [(b"authorization", f"token {token}".encode())])
    refused = await ws_call(app, [(b"authorization", f"Bearer {token}".encode())])

    assert accepted[0]["type"] == "websocket.accept"
    assert refused[0] == {"type": "websocket.close", "code": 1008, "reason": "Unauthorized"}


async def test_api_keys_in_their_own_header_keep_working_beside_the_scheme() -> None:
    store = InMemoryApiKeyStore()
    keys = ApiKeys(store, pepper="p" * 32)
    key, record = keys.generate("robot")
    store.add(record)
    app = FastAPI()
    install_error_handlers(app)
    Auth(make_tokens(), api_keys=keys, schemes=("Token",)).install(app)

    @app.get("/either")
    async def either(principal: ApiKeyOrBearer) -> dict[str, str]:
        return {"subject": principal.subject}

    async with client_for(app) as client:
        by_key = await client.get("/either", headers={"X-API-Key": key})
        by_token = await client.get(
            "/either", headers={"Authorization": f"Token {sign(make_claims())}"}
        )
        neither = await client.get("/either", headers={"Authorization": "Bearer whatever"})

    assert by_key.json() == {"subject": "robot"}
    assert by_token.json() == {"subject": "alice"}
    assert neither.status_code == 401
    assert neither.headers["www-authenticate"] == 'Token realm="api"'


async def test_openapi_documents_another_preferred_scheme_as_the_authorization_header() -> None:
    async with client_for(token_app()) as client:
        schema = (await client.get("/openapi.json")).json()

    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert "Token <token>" in scheme["description"]
    assert schema["paths"]["/me"]["get"]["security"] == [{"BearerToken": []}]


async def test_openapi_keeps_the_password_flow_while_bearer_is_preferred() -> None:
    async with client_for(token_app(("Bearer", "Token"))) as client:
        schema = (await client.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"]["BearerToken"]["type"] == "oauth2"


async def test_setup_reads_the_schemes_from_settings(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"},
        auth={"schemes": ["Token"]},
    )
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    components = setup(app, settings)
    assert components.auth is not None
    token = components.auth.tokens.issue("alice")
    async with in_process(app) as client:
        accepted = await client.get("/me", headers={"Authorization": f"TOKEN {token}"})
        refused = await client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert components.auth.schemes == ("Token",)
    assert accepted.json() == {"subject": "alice"}
    assert refused.headers["www-authenticate"].startswith("Token ")


def test_the_schemes_setting_reads_json_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FASTAPI_PRO_AUTH__SCHEMES", '["Token", "Bearer"]')

    assert Settings(_env_file=None).auth.schemes == ("Token", "Bearer")  # type: ignore[call-arg]


@pytest.mark.parametrize("schemes", [(), ("",), ("Bearer token",)])
def test_schemes_must_be_single_words(schemes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="single word"):
        Auth(make_tokens(), schemes=schemes)


def test_a_lone_string_is_one_scheme() -> None:
    assert Auth(make_tokens(), schemes="Token").schemes == ("Token",)  # type: ignore[arg-type]


async def test_the_token_factory_s_headers_name_the_preferred_scheme() -> None:
    app = token_app()

    headers = TokenFactory(app).headers("alice")
    async with client_for(app) as client:
        me = await client.get("/me", headers=headers)

    assert headers["Authorization"].startswith("Token ")
    assert me.json()["subject"] == "alice"


async def test_a_401_the_app_raises_names_the_preferred_scheme_too() -> None:
    app = token_app(("Token", "Bearer"))

    @app.get("/mine")
    async def mine() -> None:
        raise AuthenticationError("Sign in to see your orders.")

    async with client_for(app) as client:
        response = await client.get("/mine")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Token realm="api"'
