"""`setup` wires a `RateLimiter` from ``settings.ratelimit``, keyed by the `Auth`'s callers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI

from fastapi_pro import Components, Settings, setup
from fastapi_pro.auth import (
    ApiKeys,
    Auth,
    CurrentPrincipal,
    InMemoryApiKeyStore,
    Key,
    KeyRing,
    Principal,
    Tokens,
)
from fastapi_pro.ratelimit import RateLimit, RateLimiter
from tests.conftest import ClientFactory

SECRET = "a-test-signing-secret-of-32-bytes-or-more"
PEPPER = "a-test-api-key-pepper-of-32-bytes-or-more"


def settings(**sections: Any) -> Settings:
    sections.setdefault("database", {"url": "sqlite+aiosqlite://"})
    sections.setdefault("auth", {"secret_key": SECRET})
    return Settings(_env_file=None, **sections)  # type: ignore[call-arg]


def limited_app() -> FastAPI:
    app = FastAPI()

    @app.get("/search", dependencies=[Depends(RateLimit("1/minute"))])
    async def search() -> dict[str, list[str]]:
        return {"hits": []}

    return app


def built_limiter(app: FastAPI) -> RateLimiter:
    limiter = Components.of(app).rate_limiter
    assert limiter is not None
    return limiter


async def test_setup_limits_in_memory_and_counts_refusals_in_the_apps_metrics(
    client_for: ClientFactory,
) -> None:
    app = limited_app()
    components = setup(app, settings(), logging=False)
    async with client_for(app) as client:
        assert (await client.get("/search")).status_code == 200
        assert (await client.get("/search")).status_code == 429
        metrics = (await client.get("/metrics")).text
    assert RateLimiter.of(app) is components.rate_limiter
    assert 'ratelimit_refusals_total{http_route="/search",policy="1-per-minute"} 1.0' in metrics


async def test_each_authenticated_caller_has_counts_of_its_own(client_for: ClientFactory) -> None:
    app = limited_app()
    components = setup(app, settings(), logging=False)
    assert components.auth is not None
    ada, grace = (components.auth.tokens.issue(name) for name in ("ada", "grace"))
    async with client_for(app) as client:
        answers = [
            await client.get("/search", headers={"Authorization": f"Bearer {token}"})
            for token in (ada, grace, ada)
        ]
        anonymous = await client.get("/search")
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert anonymous.status_code == 200  # the client's address: a count of its own


async def test_a_token_that_does_not_verify_counts_against_the_address(
    client_for: ClientFactory,
) -> None:
    app = limited_app()
    setup(app, settings(), logging=False)
    async with client_for(app) as client:
        forged = [
            await client.get("/search", headers={"Authorization": f"Bearer forged-{n}"})
            for n in range(2)
        ]
    assert [a.status_code for a in forged] == [200, 429]


async def test_a_limited_authenticated_request_verifies_its_token_once(
    client_for: ClientFactory,
) -> None:
    app = FastAPI()

    @app.get("/me", dependencies=[Depends(RateLimit("5/minute"))])
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    components = setup(app, settings(), logging=False)
    assert components.auth is not None
    tokens = components.auth.tokens
    verified: list[str] = []
    original = tokens.authenticate

    async def counting(token: str) -> Principal:
        verified.append(token)
        return await original(token)

    tokens.authenticate = counting  # type: ignore[method-assign]
    failures: list[str] = []
    components.auth.add_failure_listener(failures.append)
    headers = {"Authorization": f"Bearer {tokens.issue('ada')}"}
    async with client_for(app) as client:
        answer = await client.get("/me", headers=headers)
        forged = await client.get("/me", headers={"Authorization": "Bearer forged"})
    assert answer.json() == {"subject": "ada"}
    assert len(verified) == 3  # once for ada's request; a forged token, once by each reader
    assert forged.status_code == 401
    assert len(failures) == 1  # the limiter's look at the forged token reports nothing


async def test_each_api_key_has_counts_of_its_own(client_for: ClientFactory) -> None:
    api_keys = ApiKeys(InMemoryApiKeyStore(), pepper=PEPPER)
    first, first_record = api_keys.generate("ada")
    second, second_record = api_keys.generate("ada")
    assert isinstance(api_keys.store, InMemoryApiKeyStore)
    api_keys.store.add(first_record)
    api_keys.store.add(second_record)
    auth = Auth(Tokens(KeyRing(Key.hmac(SECRET))), api_keys=api_keys)
    app = limited_app()
    setup(app, settings(), auth=auth, logging=False)
    async with client_for(app) as client:
        answers = [
            await client.get("/search", headers={"X-API-Key": key})
            for key in (first, second, first, "fpk_made_up")
        ]
    assert [a.status_code for a in answers] == [200, 200, 429, 200]


async def test_a_given_limiter_is_used_and_none_is_built_when_switched_off() -> None:
    mine = RateLimiter(fail_open=False)
    assert setup(FastAPI(), settings(), ratelimit=mine, logging=False).rate_limiter is mine
    off = FastAPI()
    assert setup(off, settings(), ratelimit=False, logging=False).rate_limiter is None
    with pytest.raises(RuntimeError, match="No RateLimiter is installed"):
        RateLimiter.of(off)


def test_a_limiter_installed_by_hand_is_refused_unless_switched_off() -> None:
    app = FastAPI()
    RateLimiter().install(app)
    with pytest.raises(RuntimeError, match=r"RateLimiter\.install\(\) was already called"):
        setup(app, settings(), logging=False)
    assert setup(app, settings(), ratelimit=False, logging=False).rate_limiter is None


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_RATELIMIT__FAIL_OPEN", "false")
    monkeypatch.setenv("FASTAPI_PRO_RATELIMIT__STRATEGY", "sliding-window-counter")
    monkeypatch.setenv("FASTAPI_PRO_RATELIMIT__TRUSTED_PROXIES", '["10.0.0.0/8"]')
    limiter = RateLimiter.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (limiter.fail_open, limiter.strategy) == (False, "sliding-window-counter")
    assert limiter.proxies.trusts("10.1.2.3")


def test_a_redis_storage_without_a_redis_url_is_refused() -> None:
    with pytest.raises(ValueError, match=r"redis\.url is not set"):
        setup(FastAPI(), settings(ratelimit={"storage": "redis"}), logging=False)


async def test_disabled_in_the_settings_every_request_passes(client_for: ClientFactory) -> None:
    app = limited_app()
    setup(app, settings(ratelimit={"enabled": False}), logging=False)
    async with client_for(app) as client:
        statuses = [(await client.get("/search")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
