from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal, KeyConfigError, Principal, _jwks
from fastapi_pro.auth._jwks import MAX_DOCUMENT_BYTES, JWKSError, JWKSKeySource
from fastapi_pro.auth._keys import Key
from tests.servers import free_port

JWKS_PATH = "/jwks"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TTL = 300.0
COOLDOWN = 30.0


@dataclass
class Provider:
    """An identity provider on loopback: what it serves, how it fails, how often it was asked."""

    base_url: str = ""
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    issuer: str = ""
    jwks_uri: str = ""
    mode: str = "ok"
    delay: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)
    stop: Callable[[], Awaitable[None]] = field(default=lambda: asyncio.sleep(0))

    def publish(self, *keys: Key) -> None:
        self.jwks = {"keys": [key.public_jwk() for key in keys]}


def oversized_chunks() -> Iterator[bytes]:
    yield b'{"keys": [], "pad": "'
    for _ in range(MAX_DOCUMENT_BYTES // 65536 + 2):
        yield b"x" * 65536
    yield b'"}'


def provider_app(provider: Provider) -> Starlette:
    async def jwks(request: Request) -> Response:
        provider.hits[JWKS_PATH] += 1
        await asyncio.sleep(provider.delay)
        if provider.mode == "error":
            return Response("upstream trouble", status_code=500)
        if provider.mode == "garbage":
            return Response(b"<html>not json", media_type="application/json")
        if provider.mode == "shape":
            return JSONResponse({"keys": "not a list"})
        if provider.mode == "big":
            return Response(b"".join(oversized_chunks()), media_type="application/json")
        if provider.mode == "big-stream":
            return StreamingResponse(oversized_chunks(), media_type="application/json")
        return JSONResponse(provider.jwks)

    async def discovery(request: Request) -> Response:
        provider.hits[DISCOVERY_PATH] += 1
        return JSONResponse({"issuer": provider.issuer, "jwks_uri": provider.jwks_uri})

    return Starlette(routes=[Route(JWKS_PATH, jwks), Route(DISCOVERY_PATH, discovery)])


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    port = free_port()
    state = Provider(base_url=f"http://127.0.0.1:{port}")
    state.issuer = state.base_url
    state.jwks_uri = state.base_url + JWKS_PATH
    config = uvicorn.Config(
        provider_app(state),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        await serving

    state.stop = stop
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await asyncio.sleep(0.01)
        yield state
    finally:
        await stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


SourceFactory = Callable[..., JWKSKeySource]


@pytest.fixture
async def make_source(provider: Provider, clock: FakeClock) -> AsyncIterator[SourceFactory]:
    sources: list[JWKSKeySource] = []

    def make(**options: Any) -> JWKSKeySource:
        options = {"ttl": TTL, "refresh_cooldown": COOLDOWN, "clock": clock, **options}
        source = JWKSKeySource(provider.base_url + JWKS_PATH, **options)
        sources.append(source)
        return source

    yield make
    for source in sources:
        await source.aclose()


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {alg: Key.generate(alg, kid=f"{alg}-1") for alg in ("RS256", "ES256", "EdDSA")}


def sign(key: Key, **claims: Any) -> str:
    return jwt.encode(
        {"sub": "alice", **claims},
        key.signing_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid},
    )


async def verify(source: JWKSKeySource, token: str) -> dict[str, Any] | None:
    key = await source.get_key(jwt.get_unverified_header(token).get("kid"))
    if key is None:
        return None
    claims: dict[str, Any] = jwt.decode(token, key.verify_key, algorithms=[key.algorithm])
    return claims


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fastapi_pro.auth" and r.levelno == logging.WARNING
    ]


def random_kid() -> str:
    return secrets.token_hex(8)


async def test_keys_are_found_by_kid_and_verify_tokens(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(*keys.values())
    source = make_source()

    for alg, key in keys.items():
        found = await source.get_key(key.kid)
        assert found is not None
        assert (found.kid, found.algorithm, found.signing_key) == (key.kid, alg, None)
        assert await verify(source, sign(key)) == {"sub": "alice"}
    assert provider.hits[JWKS_PATH] == 1


async def test_a_token_signed_by_another_key_with_a_known_kid_is_rejected(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["ES256"])
    impostor = Key.generate("ES256", kid=keys["ES256"].kid)
    source = make_source()

    with pytest.raises(jwt.InvalidSignatureError):
        await verify(source, sign(impostor))


async def test_without_kid_the_only_key_is_returned(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["EdDSA"])
    source = make_source()

    found = await source.get_key(None)
    assert found is not None
    assert found.kid == keys["EdDSA"].kid


async def test_without_kid_no_key_is_chosen_among_several(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"], keys["ES256"])
    source = make_source()

    assert await source.get_key(None) is None
    assert await source.get_key(keys["RS256"].kid) is not None


async def test_encryption_secret_and_broken_keys_are_skipped(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    good = keys["RS256"].public_jwk()
    provider.jwks = {
        "keys": [
            {**keys["ES256"].public_jwk(), "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "hmac"},
            {**good, "kid": "broken", "n": "not-base64!"},
            {**good, "kid": "rs512", "alg": "RS512"},
            {"kty": "XYZ", "kid": "unknown-type"},
            "not a jwk",
            {k: v for k, v in keys["EdDSA"].public_jwk().items() if k != "use"},
            good,
        ]
    }
    source = make_source()

    assert await source.get_key(keys["RS256"].kid) is not None
    assert await source.get_key(keys["EdDSA"].kid) is not None
    for kid in (keys["ES256"].kid, "hmac", "broken", "rs512", "unknown-type"):
        assert await source.get_key(kid) is None
    assert provider.hits[JWKS_PATH] == 1


async def test_a_cache_hit_makes_no_request_within_the_ttl(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()

    assert await source.get_key(keys["RS256"].kid) is not None
    clock.advance(TTL - 0.1)
    assert await source.get_key(keys["RS256"].kid) is not None
    assert provider.hits[JWKS_PATH] == 1


async def test_keys_are_refetched_after_the_ttl(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()
    assert await source.get_key(keys["RS256"].kid) is not None

    provider.publish(keys["ES256"])
    clock.advance(TTL)
    assert await source.get_key(keys["ES256"].kid) is not None
    assert await source.get_key(keys["RS256"].kid) is None
    assert provider.hits[JWKS_PATH] == 2


async def test_an_unknown_kid_refetches_once_per_cooldown(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()
    assert await source.get_key(keys["RS256"].kid) is not None

    clock.advance(1)
    assert await source.get_key("unknown") is None
    assert provider.hits[JWKS_PATH] == 1

    clock.advance(COOLDOWN)
    assert await source.get_key("unknown") is None
    assert await source.get_key("unknown-too") is None
    assert provider.hits[JWKS_PATH] == 2


async def test_concurrent_random_kids_cause_at_most_one_fetch_per_cooldown(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()
    assert await source.get_key(keys["RS256"].kid) is not None
    provider.delay = 0.05

    clock.advance(COOLDOWN + 1)
    found = await asyncio.gather(*(source.get_key(random_kid()) for _ in range(50)))
    assert found == [None] * 50
    assert provider.hits[JWKS_PATH] == 2

    clock.advance(COOLDOWN / 2)
    found = await asyncio.gather(*(source.get_key(random_kid()) for _ in range(50)))
    assert found == [None] * 50
    assert provider.hits[JWKS_PATH] == 2
    assert await source.get_key(keys["RS256"].kid) is not None


async def test_concurrent_first_lookups_share_one_fetch(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(*keys.values())
    provider.delay = 0.05
    source = make_source()

    kids = [key.kid for key in keys.values()] * 17
    found = await asyncio.gather(*(source.get_key(kid) for kid in kids))
    assert [key.kid if key else None for key in found] == kids
    assert provider.hits[JWKS_PATH] == 1


async def test_a_rotated_key_is_picked_up_after_the_cooldown(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    old, new = keys["RS256"], Key.generate("RS256", kid="RS256-2")
    provider.publish(old)
    source = make_source()
    assert await verify(source, sign(old)) == {"sub": "alice"}

    provider.publish(new, old)
    clock.advance(1)
    assert await verify(source, sign(new)) is None
    clock.advance(COOLDOWN)
    assert await verify(source, sign(new)) == {"sub": "alice"}
    assert await verify(source, sign(old)) == {"sub": "alice"}
    assert provider.hits[JWKS_PATH] == 2


@pytest.mark.parametrize("failure", ["down", "error", "garbage", "shape", "big", "big-stream"])
async def test_a_failed_refetch_keeps_serving_the_stale_keys(
    *,
    provider: Provider,
    make_source: SourceFactory,
    keys: dict[str, Key],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    key = keys["ES256"]
    provider.publish(key)
    source = make_source()
    token = sign(key)
    assert await verify(source, token) == {"sub": "alice"}

    if failure == "down":
        await provider.stop()
    provider.mode = failure
    clock.advance(TTL)
    assert await verify(source, token) == {"sub": "alice"}
    clock.advance(1)
    assert await verify(source, token) == {"sub": "alice"}
    assert await source.get_key(random_kid()) is None

    assert provider.hits[JWKS_PATH] == (1 if failure == "down" else 2)
    [warning] = warnings_of(caplog)
    assert "keeping the cached keys" in warning
    assert token not in caplog.text


async def test_after_a_failed_refetch_the_next_attempt_waits_for_the_cooldown(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key], clock: FakeClock
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()
    assert await source.get_key(keys["RS256"].kid) is not None

    provider.mode = "error"
    clock.advance(TTL)
    assert await source.get_key(keys["RS256"].kid) is not None
    assert provider.hits[JWKS_PATH] == 2

    provider.mode = "ok"
    provider.publish(keys["EdDSA"])
    clock.advance(COOLDOWN)
    assert await source.get_key(keys["EdDSA"].kid) is not None
    assert provider.hits[JWKS_PATH] == 3


@pytest.mark.parametrize("failure", ["error", "garbage", "shape"])
async def test_a_failed_first_fetch_returns_none_until_the_provider_recovers(
    *,
    provider: Provider,
    make_source: SourceFactory,
    keys: dict[str, Key],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    provider.publish(keys["EdDSA"])
    provider.mode = failure
    source = make_source()

    assert await source.get_key(keys["EdDSA"].kid) is None
    assert await source.get_key(None) is None
    assert provider.hits[JWKS_PATH] == 1
    assert "no keys are available" in warnings_of(caplog)[0]

    provider.mode = "ok"
    clock.advance(COOLDOWN)
    assert await source.get_key(keys["EdDSA"].kid) is not None
    assert provider.hits[JWKS_PATH] == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("big", f"announced {len(b''.join(oversized_chunks()))} bytes"),
        ("big-stream", f"sent more than the {MAX_DOCUMENT_BYTES} bytes"),
    ],
)
async def test_an_oversized_document_is_refused(
    provider: Provider,
    make_source: SourceFactory,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    reason: str,
) -> None:
    provider.mode = mode
    source = make_source()

    assert await source.get_key(None) is None
    [warning] = warnings_of(caplog)
    assert reason in warning


async def test_a_slow_provider_times_out(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"])
    provider.delay = 1.0
    source = make_source(timeout=0.1)

    started = time.monotonic()
    assert await source.get_key(keys["RS256"].kid) is None
    assert time.monotonic() - started < 0.9


async def test_an_unreachable_provider_yields_none(
    provider: Provider, make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await provider.stop()
    source = make_source()

    assert await source.get_key("any") is None
    assert "ConnectError" in warnings_of(caplog)[0]


@pytest.mark.parametrize("slash", ["", "/"])
async def test_discovery_finds_the_jwks(
    provider: Provider, keys: dict[str, Key], clock: FakeClock, slash: str
) -> None:
    provider.publish(keys["ES256"])
    provider.issuer = provider.base_url + slash

    async with await JWKSKeySource.from_issuer(provider.issuer, clock=clock) as source:
        assert source.jwks_url == provider.jwks_uri
        assert await verify(source, sign(keys["ES256"])) == {"sub": "alice"}
    assert provider.hits == {DISCOVERY_PATH: 1, JWKS_PATH: 1}


async def test_discovery_uses_a_given_client_and_leaves_it_open(
    provider: Provider, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"])
    async with httpx.AsyncClient() as client:
        source = await JWKSKeySource.from_issuer(provider.issuer, client=client)
        assert await source.get_key(keys["RS256"].kid) is not None
        await source.aclose()
        assert not client.is_closed


async def test_discovery_refuses_a_document_of_another_issuer(provider: Provider) -> None:
    provider.issuer = "https://idp.example.com"

    with pytest.raises(JWKSError, match="does not name the issuer"):
        await JWKSKeySource.from_issuer(provider.base_url)
    assert provider.hits[JWKS_PATH] == 0


@pytest.mark.parametrize("jwks_uri", ["file:///etc/jwks.json", "", None, "//no-scheme/jwks"])
async def test_discovery_refuses_a_jwks_uri_that_is_not_http(
    provider: Provider, jwks_uri: str | None
) -> None:
    provider.jwks_uri = jwks_uri  # type: ignore[assignment]

    with pytest.raises(JWKSError, match="no http"):
        await JWKSKeySource.from_issuer(provider.base_url)


async def test_discovery_failure_raises(provider: Provider) -> None:
    await provider.stop()

    with pytest.raises(JWKSError, match="discovery"):
        await JWKSKeySource.from_issuer(provider.base_url)


@pytest.mark.parametrize(
    "url", ["file:///etc/jwks.json", "ftp://idp.example.com/jwks", "idp.example.com/jwks", ""]
)
async def test_urls_that_are_not_http_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        JWKSKeySource(url)
    with pytest.raises(ValueError, match="http"):
        await JWKSKeySource.from_issuer(url)


@pytest.mark.parametrize("options", [{"ttl": 0}, {"refresh_cooldown": -1}, {"timeout": 0}])
def test_out_of_range_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive"):
        JWKSKeySource("https://idp.example.com/jwks", **options)


def test_without_httpx_construction_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_jwks, "_HTTPX_MISSING", True)

    with pytest.raises(ImportError, match=r'pip install "fastapi-pro\[oidc\]"'):
        JWKSKeySource("https://idp.example.com/jwks")


async def test_a_given_client_is_left_open(provider: Provider, keys: dict[str, Key]) -> None:
    provider.publish(keys["RS256"])
    async with httpx.AsyncClient() as client:
        async with JWKSKeySource(provider.jwks_uri, client=client) as source:
            assert await source.get_key(keys["RS256"].kid) is not None
        assert not client.is_closed
        assert (await client.get(provider.jwks_uri)).status_code == 200


async def test_a_closed_source_fetches_nothing(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"])
    source = make_source()
    await source.aclose()

    assert await source.get_key(keys["RS256"].kid) is None
    assert provider.hits[JWKS_PATH] == 0


async def test_closing_cancels_a_fetch_in_progress(
    provider: Provider, make_source: SourceFactory, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"])
    provider.delay = 0.5
    source = make_source()
    lookup = asyncio.create_task(source.get_key(keys["RS256"].kid))
    while not provider.hits[JWKS_PATH]:  # noqa: ASYNC110 - the server counts, it does not signal
        await asyncio.sleep(0.01)

    await source.aclose()
    assert await asyncio.wait_for(lookup, 1) is None


async def test_setup_verifies_an_identity_providers_tokens_from_settings(
    provider: Provider, keys: dict[str, Key]
) -> None:
    provider.publish(keys["RS256"])
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",  # no signing key needed: the service issues no tokens
        database={"url": "sqlite+aiosqlite://"},
        auth={
            "jwks_url": provider.base_url + JWKS_PATH,
            "issuer": provider.issuer,
            "audience": "orders",
        },
        observability={"metrics_token": "scrape-secret"},
    )
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    components = setup(app, settings, logging=False)
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": "orders", "iat": now, "exp": now + 60}
    good = jwt.encode(
        {"sub": "alice", **claims},
        keys["RS256"].signing_key,
        algorithm="RS256",
        headers={"kid": keys["RS256"].kid, "typ": "JWT"},
    )
    forged = jwt.encode(
        {"sub": "mallory", **claims},
        keys["ES256"].signing_key,
        algorithm="ES256",
        headers={"kid": keys["RS256"].kid, "typ": "JWT"},
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            accepted = await client.get("/me", headers={"Authorization": f"Bearer {good}"})
            refused = await client.get("/me", headers={"Authorization": f"Bearer {forged}"})
    # The provider rotates its key; the app starts again (a test client per test, say), once
    # the keys' TTL and the fetch cool-down have passed.
    provider.publish(keys["ES256"], keys["RS256"])
    source = components.auth.tokens.source if components.auth is not None else None
    assert isinstance(source, JWKSKeySource)
    source._fetched_at = source._attempted_at = None
    rotated = jwt.encode(
        {"sub": "bob", **claims},
        keys["ES256"].signing_key,
        algorithm="ES256",
        headers={"kid": keys["ES256"].kid, "typ": "JWT"},
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            again = await client.get("/me", headers={"Authorization": f"Bearer {rotated}"})
    assert again.json() == {"subject": "bob"}  # the key source fetched after the restart

    assert accepted.json() == {"subject": "alice"}
    assert refused.status_code == 401
    assert components.auth is not None
    assert components.auth.tokens.keys is None
    source = components.auth.tokens.source
    assert isinstance(source, JWKSKeySource)
    assert source._closed
    with pytest.raises(RuntimeError, match="only verifies"):
        components.auth.tokens.issue("alice")
    assert isinstance(await components.auth.authenticate(good), Principal)


def idp_settings(**auth: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment=auth.pop("environment", "production"),
        database={"url": "sqlite+aiosqlite://"},
        auth={"jwks_url": "https://sso.example.com/jwks", **auth},
    )


@pytest.mark.parametrize("missing", ["issuer", "audience"])
def test_a_provider_without_issuer_or_audience_is_refused_in_production(missing: str) -> None:
    auth = {"issuer": "https://sso.example.com", "audience": "orders"}
    del auth[missing]
    with pytest.raises(KeyConfigError, match=f"without auth.{missing}"):
        setup(FastAPI(), idp_settings(**auth), logging=False)


def test_a_provider_without_audience_is_a_warning_in_development(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup(FastAPI(), idp_settings(environment="development"), logging=False)
    assert "auth.jwks_url is set without auth.issuer and auth.audience" in caplog.text


async def test_verify_only_settings_refuse_a_store_a_login_and_a_token_url() -> None:
    full = {"issuer": "https://sso.example.com", "audience": "orders"}
    with pytest.raises(ValueError, match="nothing to hold"):
        setup(FastAPI(), idp_settings(token_store="database", **full), logging=False)
    with pytest.raises(ValueError, match="no login here"):
        setup(FastAPI(), idp_settings(**full), logging=False, token_url="/auth/token")
    components = setup(FastAPI(), idp_settings(**full), logging=False)
    assert components.auth is not None
    with pytest.raises(RuntimeError, match="no logins"):
        await components.auth.login(Principal("alice"))
