"""The token endpoint's brute-force limits, per username and per client address, through HTTP.

Each test builds an app with `setup` (or by hand), counts in memory or in the real Redis server
under its `redis_keys` prefix, and sends logins from many client addresses through a trusted
proxy's ``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from fastapi_pro import Settings, setup
from fastapi_pro.auth import Auth, JsonLogin, Principal, password_flow_router
from fastapi_pro.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from fastapi_pro.ratelimit import LoginLimits, RateLimiter
from tests.auth.helpers import load_user, make_tokens
from tests.conftest import RedisKeys, redis_key_names
from tests.servers import in_process

SECRET = "a-test-signing-secret-of-32-bytes-or-more"
PROXY = "127.0.0.1"  # the peer httpx's ASGI transport reports: trusted, so X-Forwarded-For counts
USER_LOGIN = JsonLogin(identifier=("user", "email"), password=("user", "password"))


class Accounts:
    """One account, ``alice`` / ``wonderland``; counts the passwords it was asked to check."""

    def __init__(self) -> None:
        self.checked = 0

    async def authenticate(self, username: str, password: str) -> Principal | None:
        self.checked += 1
        return Principal(username) if (username, password) == ("alice", "wonderland") else None


def settings_for(redis: RedisKeys | None, **ratelimit: Any) -> Settings:
    ratelimit.setdefault("trusted_proxies", [PROXY])
    sections: dict[str, Any] = {"auth": {"secret_key": SECRET}, "ratelimit": ratelimit}
    if redis is not None:
        sections["redis"] = {"url": redis.url, "key_prefix": redis.prefix}
        ratelimit["storage"] = "redis"
    return Settings(_env_file=None, **sections)  # type: ignore[call-arg]


def make_app(settings: Settings, accounts: Accounts, **switches: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(password_flow_router(accounts.authenticate, json_login=USER_LOGIN))
    setup(app, settings, database=False, logging=False, **switches)
    return app


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis(request: pytest.FixtureRequest) -> RedisKeys | None:
    """No Redis (counts in memory), or a key prefix of the test's own on the real server."""
    return request.getfixturevalue("redis_keys") if request.param == "redis" else None


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app) as client:
        yield client


async def login(
    client: httpx.AsyncClient,
    username: str,
    address: str,
    password: str = "wrong",  # noqa: S107
) -> httpx.Response:
    form = {"username": username, "password": password}
    return await client.post("/auth/token", data=form, headers={"X-Forwarded-For": address})


async def json_login(client: httpx.AsyncClient, email: str, address: str) -> httpx.Response:
    body = {"user": {"email": email, "password": "wrong"}}
    return await client.post("/auth/token", json=body, headers={"X-Forwarded-For": address})


def address(number: int) -> str:
    return f"203.0.113.{number}"


def assert_refused(response: httpx.Response, policy: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "too_many_requests"
    assert int(response.headers["retry-after"]) >= 1
    assert f'"{policy}";q=' in response.headers["ratelimit-policy"]
    assert f'"{policy}";r=0;' in response.headers["ratelimit"]


# -- per username ----------------------------------------------------------------------------


async def test_the_sixth_login_for_one_username_is_refused_whatever_the_address(
    redis: RedisKeys | None,
) -> None:
    accounts = Accounts()
    async with client_of(make_app(settings_for(redis), accounts)) as client:
        tries = [(await login(client, "alice", address(n))).status_code for n in range(1, 6)]
        sixth = await login(client, "alice", address(6), password="wonderland")
        other_user = await login(client, "bob", address(7))
        same_user_folded = await login(client, "  ALICE ", address(8))

    assert tries == [400] * 5
    assert_refused(sixth, "login-username-5-per-minute")
    assert_refused(same_user_folded, "login-username-5-per-minute")
    assert other_user.status_code == 400
    assert accounts.checked == 6  # the refused attempts never reached a password check


async def test_a_refusal_is_the_same_for_an_account_that_exists_and_one_that_does_not(
    redis: RedisKeys | None,
) -> None:
    accounts = Accounts()
    async with client_of(make_app(settings_for(redis), accounts)) as client:
        for username in ("alice", "nobody"):
            for n in range(5):
                await login(client, username, address(n))
        known = await login(client, "alice", "198.51.100.1")
        unknown = await login(client, "nobody", "198.51.100.2")

    assert accounts.checked == 10
    assert_refused(known, "login-username-5-per-minute")
    assert_refused(unknown, "login-username-5-per-minute")
    assert known.json()["detail"] == unknown.json()["detail"]
    assert set(known.headers) == set(unknown.headers)


async def test_json_logins_count_against_the_same_username(redis: RedisKeys | None) -> None:
    accounts = Accounts()
    async with client_of(make_app(settings_for(redis), accounts)) as client:
        tries = [(await json_login(client, "eve", address(n))).status_code for n in range(1, 4)]
        tries += [(await login(client, "Eve", address(n))).status_code for n in range(4, 6)]
        sixth = await json_login(client, "EVE", address(6))
        other = await json_login(client, "alice", address(7))

    assert tries == [400] * 5
    assert_refused(sixth, "login-username-5-per-minute")
    assert other.status_code == 400


# -- per client address ----------------------------------------------------------------------


async def test_one_address_is_refused_past_its_limit_across_usernames(
    redis: RedisKeys | None,
) -> None:
    accounts = Accounts()
    async with client_of(make_app(settings_for(redis), accounts)) as client:
        tries = [(await login(client, f"user{n}", address(1))).status_code for n in range(20)]
        refused = await login(client, "someone-new", address(1))
        elsewhere = await login(client, "someone-new", address(2))

    assert tries == [400] * 20
    assert_refused(refused, "login-address-20-per-minute")
    assert elsewhere.status_code == 400
    assert accounts.checked == 21


async def test_refresh_grants_count_against_the_client_address(redis: RedisKeys | None) -> None:
    settings = settings_for(redis, login_per_address=["3/minute"])
    grant = {"grant_type": "refresh_token", "refresh_token": "not-a-token"}
    async with client_of(make_app(settings, Accounts())) as client:
        post = client.post
        tries = [(await post("/auth/token", data=grant)).status_code for _ in range(3)]
        refused = await post("/auth/token", data=grant)
        login_too = await login(client, "alice", PROXY, password="wonderland")

    assert tries == [400] * 3
    assert_refused(refused, "login-address-3-per-minute")
    assert_refused(login_too, "login-address-3-per-minute")


async def test_an_untrusted_peer_cannot_pick_its_address() -> None:
    settings = settings_for(None, trusted_proxies=[], login_per_address=["2/minute"])
    async with client_of(make_app(settings, Accounts())) as client:
        statuses = [(await login(client, f"u{n}", address(n))).status_code for n in range(3)]

    assert statuses == [400, 400, 429]


# -- metrics, logs and keys ------------------------------------------------------------------


def samples(scrape: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(scrape)
        for sample in family.samples
        if sample.name == name
    }


async def test_refusals_are_counted_and_the_username_shows_nowhere(
    redis: RedisKeys | None, caplog: pytest.LogCaptureFixture
) -> None:
    secret_name = "carol.secret-name@example.com"
    async with client_of(make_app(settings_for(redis), Accounts())) as client:
        for n in range(7):
            await login(client, secret_name, address(n))
        scrape = (await client.get("/metrics")).text

    refusals = samples(scrape, "ratelimit_refusals_total")
    route, policy = ("http_route", "/auth/token"), ("policy", "login-username-5-per-minute")
    assert refusals == {(route, policy): 2}
    failures = samples(scrape, "auth_failures_total")
    assert failures[(("reason", "too_many_requests"),)] == 2
    assert failures[(("reason", "invalid_grant"),)] == 5
    assert "carol" not in scrape
    assert "carol" not in caplog.text
    if redis is not None:
        keys = await redis_key_names(redis.url, redis.prefix)
        assert keys
        assert not [key for key in keys if b"carol" in key.lower()]


# -- switched off ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratelimit", "switches"),
    [
        pytest.param({"login_limits": False}, {}, id="login-limits-off"),
        pytest.param({"enabled": False}, {}, id="rate-limits-off"),
        pytest.param({}, {"ratelimit": False}, id="no-limiter"),
        pytest.param({}, {"ratelimit": RateLimiter(login=None)}, id="limiter-without-login"),
    ],
)
async def test_logins_are_not_limited_when_switched_off(
    ratelimit: dict[str, Any], switches: dict[str, Any]
) -> None:
    accounts = Accounts()
    app = make_app(settings_for(None, **ratelimit), accounts, **switches)
    async with client_of(app) as client:
        statuses = {(await login(client, "alice", address(1))).status_code for _ in range(25)}

    assert statuses == {400}
    assert accounts.checked == 25


async def test_an_app_without_a_limiter_wired_by_hand_is_not_limited() -> None:
    accounts = Accounts()
    app = FastAPI()
    install_error_handlers(app)
    Auth(make_tokens(), user_loader=load_user).install(app)
    app.include_router(password_flow_router(accounts.authenticate))
    async with client_of(app) as client:
        statuses = {(await login(client, "alice", address(1))).status_code for _ in range(25)}

    assert statuses == {400}


async def test_a_limiter_installed_by_hand_limits_logins_by_default() -> None:
    app = FastAPI()
    install_error_handlers(app)
    Auth(make_tokens(), user_loader=load_user).install(app)
    RateLimiter().install(app)
    app.include_router(password_flow_router(Accounts().authenticate))
    async with client_of(app) as client:
        statuses = [(await login(client, "alice", address(1))).status_code for _ in range(6)]
        other = await login(client, "bob", address(1))

    assert statuses == [400] * 5 + [429]
    assert other.status_code == 400
    assert other.headers["ratelimit-policy"] == (
        '"login-address-20-per-minute";q=20;w=60, '
        '"login-username-5-per-minute";q=5;w=60, "login-username-100-per-hour";q=100;w=3600'
    )


async def test_custom_limits_replace_the_settings() -> None:
    limits = LoginLimits(per_username=["2/minute"], per_address=[])
    app = make_app(settings_for(None), Accounts(), ratelimit=RateLimiter(login=limits))
    async with client_of(app) as client:
        statuses = [(await login(client, "alice", address(1))).status_code for _ in range(3)]

    assert statuses == [400, 400, 429]


# -- the storage fails -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratelimit", "status"),
    [
        pytest.param({"fail_open": True}, 400, id="open"),
        pytest.param({"fail_open": False}, 503, id="closed"),
        pytest.param({"fail_open": True, "login_fail_open": False}, 503, id="logins-closed"),
        pytest.param({"fail_open": False, "login_fail_open": True}, 400, id="logins-open"),
    ],
)
async def test_a_storage_that_fails_lets_logins_through_or_refuses_them_as_configured(
    ratelimit: dict[str, Any], status: int
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        auth={"secret_key": SECRET},
        redis={"url": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.2},
        ratelimit={"storage": "redis", **ratelimit},
    )
    accounts = Accounts()
    async with client_of(make_app(settings, accounts, health=False)) as client:
        answer = await login(client, "alice", address(1))

    assert answer.status_code == status
    assert "ratelimit" not in answer.headers  # no count to announce
    assert accounts.checked == (1 if status == 400 else 0)


# -- the pieces ------------------------------------------------------------------------------


def test_login_limits_need_a_limit_and_read_a_lone_string() -> None:
    with pytest.raises(ValueError, match="at least one limit"):
        LoginLimits(per_username=[], per_address=[])
    limits = LoginLimits(per_username="3/hour", per_address=["10/minute"])

    assert [policy.name for policy in limits.per_username] == ["login-username-3-per-hour"]
    assert [policy.name for policy in limits.per_address] == ["login-address-10-per-minute"]
    assert "login-username-3-per-hour" in repr(limits)


def test_the_settings_defaults_are_the_limiters_defaults() -> None:
    built = RateLimiter.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    default = RateLimiter()

    assert built.login is not None
    assert default.login is not None
    assert repr(built.login) == repr(default.login)


def test_the_token_endpoint_documents_its_429() -> None:
    app = FastAPI()
    app.include_router(password_flow_router(Accounts().authenticate))
    responses = app.openapi()["paths"]["/auth/token"]["post"]["responses"]

    assert "too_many_requests" in responses["429"]["content"][PROBLEM_MEDIA_TYPE]["examples"]
    unavailable = responses["503"]["content"][PROBLEM_MEDIA_TYPE]["examples"]
    assert {"service_unavailable", "token_store_unavailable"} <= set(unavailable)
