"""The sections of the blocks that talk to servers: database, auth, Redis, limits, health."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from fastapi_pro.settings._common import (
    MIN_HMAC_KEY_BYTES,
    Duration,
    JWTAlgorithm,
    _Section,
)


class DatabaseSettings(_Section):
    """Where the database is and how its connection pool behaves."""

    url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///./app.db"),
        description="SQLAlchemy async URL; a secret because it may carry a password.",
    )
    echo: bool = Field(False, description="Log every SQL statement.")
    pool_size: int = Field(5, ge=1, description="Connections kept open in the pool.")
    max_overflow: int = Field(10, ge=0, description="Extra connections allowed under load.")
    pool_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a free connection.")
    connect_timeout: float | None = Field(
        5.0, gt=0, description="Seconds to open a connection (PostgreSQL); unset: asyncpg's 60."
    )
    statement_timeout: float | None = Field(
        5.0,
        gt=0,
        description="PostgreSQL's `statement_timeout` (server-side), seconds; unset: the server's.",
    )
    command_timeout: float | None = Field(
        6.0,
        gt=0,
        description=(
            "Seconds the client waits for a statement's answer (PostgreSQL), which also bounds "
            "a dead network; unset: no bound."
        ),
    )
    pool_recycle: int = Field(1800, description="Seconds before a connection is replaced.")
    pool_pre_ping: bool = Field(
        False, description="Test each connection with a round trip before handing it out."
    )
    cursor_secret: SecretStr | None = Field(
        None, description="Key that signs keyset cursors; set it when several workers serve."
    )


TokenStoreName = Literal["memory", "redis", "database"]
"""Where `setup` keeps refresh-token families and the access-token denylist."""


class AuthSettings(_Section):
    """How tokens are signed and checked."""

    secret_key: SecretStr | None = Field(
        None, description="HMAC signing key (HS* algorithms); at least 32 bytes."
    )
    private_key: SecretStr | None = Field(
        None, description="PEM private key that signs tokens with RS256, ES256 or EdDSA."
    )
    algorithm: JWTAlgorithm = Field("HS256", description="The algorithm tokens are signed with.")
    access_token_ttl: Duration = Field(
        timedelta(minutes=15), gt=timedelta(0), description="Lifetime of access tokens."
    )
    refresh_token_ttl: Duration = Field(
        timedelta(days=14), gt=timedelta(0), description="Lifetime of refresh-token families."
    )
    issuer: str | None = Field(None, description="Expected and issued `iss` claim.")
    audience: str | None = Field(None, description="Expected and issued `aud` claim.")
    leeway: Duration = Field(timedelta(0), ge=timedelta(0), description="Clock skew allowed.")
    token_store: TokenStoreName = Field(
        "memory",
        description=(
            "Where refresh-token families live: `memory` (one process), `redis` (needs "
            "`redis.url`) or `database` (the app's database)."
        ),
    )
    check_denylist: bool = Field(
        False, description="Also refuse revoked access tokens (one store lookup per request)."
    )
    schemes: tuple[str, ...] = Field(
        ("Bearer",),
        min_length=1,
        description=(
            "The `Authorization` schemes that carry an access token, any case; the first is "
            'the one challenges name. As JSON: `["Token", "Bearer"]`.'
        ),
    )
    jwks_url: str | None = Field(
        None,
        description=(
            "Verify tokens with the keys an external identity provider publishes at this URL "
            "(the `oidc` extra); the service then issues no tokens and needs no signing key."
        ),
    )
    token_types: list[str] | None = Field(
        None,
        description=(
            "The JWT `typ` headers accepted for access tokens; by default `at+jwt`, and also "
            "`JWT` with `jwks_url` (what most identity providers send)."
        ),
    )

    @model_validator(mode="after")
    def _check_hmac_key(self) -> Self:
        key = self.secret_key
        if self.algorithm.startswith("HS") and key is not None:
            size = len(key.get_secret_value().encode())
            if size < MIN_HMAC_KEY_BYTES:
                msg = (
                    f"auth.secret_key is {size} bytes long; {self.algorithm} needs at least "
                    f"{MIN_HMAC_KEY_BYTES}. Generate one with: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
                raise ValueError(msg)
        return self


class HealthSettings(_Section):
    """Liveness and readiness probes."""

    check_timeout: float = Field(0.8, gt=0, description="Seconds one check may take.")
    cache_ttl: float = Field(1.0, ge=0, description="Seconds a readiness result is reused.")
    path_prefix: str = Field(
        "/health", description="The probes are served at `<prefix>/live`, `/ready`, `/startup`."
    )


class RedisSettings(_Section):
    """The Redis server shared token stores and health checks use; unset means no Redis."""

    url: SecretStr | None = Field(
        None,
        description="`redis://host:6379/0`; a secret because it may carry a password.",
    )
    key_prefix: str = Field(
        "fastapi-pro:", description="Prepended to every key written; give each service its own."
    )
    socket_connect_timeout: float = Field(
        2.0,
        gt=0,
        description=(
            "Seconds to open a connection to Redis; past it, the request that needed Redis is "
            "answered 503."
        ),
    )
    socket_timeout: float = Field(
        2.0,
        gt=0,
        description=(
            "Seconds to wait for Redis to answer a command; past it, the request is answered 503."
        ),
    )
    retries: int = Field(
        1,
        ge=0,
        le=5,
        description=(
            "Times a command is sent again, at once, on a new connection after a refused or "
            "reset one; timeouts are never retried, so they cost one timeout."
        ),
    )


RateLimitStrategy = Literal["moving-window", "sliding-window-counter", "fixed-window"]
"""The counting strategies of `fastapi_pro.ratelimit`, from the ``limits`` package."""


class RateLimitSettings(_Section):
    """Where request counts of `fastapi_pro.ratelimit` live, and what happens when it fails."""

    enabled: bool = Field(
        True,
        description=(
            "Build the app's `RateLimiter`; with it off, `RateLimit` dependencies let every "
            "request through and send no headers."
        ),
    )
    storage: Literal["auto", "memory", "redis"] = Field(
        "auto",
        description=(
            "`redis` counts on `redis.url` (shared by every process), `memory` in this process "
            "only; `auto` is `redis` when `redis.url` is set."
        ),
    )
    strategy: RateLimitStrategy = Field(
        "moving-window",
        description="How requests are counted, unless a `RateLimit` names its own.",
    )
    timeout: float = Field(
        0.25,
        gt=0,
        description="Seconds a check may wait for the storage before it counts as failed.",
    )
    fail_open: bool = Field(
        True,
        description=(
            "When the storage fails or is slow, let requests through (`true`) or refuse them "
            "with a 503 problem (`false`), unless a `RateLimit` says otherwise."
        ),
    )
    retry_after: int = Field(
        5, ge=0, description="`Retry-After` seconds of the 503 sent while failing closed."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Addresses or networks (`10.0.0.0/8`) of the proxies whose `X-Forwarded-For` "
            "names the client; every other peer is the client itself."
        ),
    )
    key_prefix: str = Field(
        "ratelimit", description="Appended to `redis.key_prefix` for the counters' keys."
    )
    login_limits: bool = Field(
        True,
        description=(
            "Limit the token endpoint of `password_flow_router` per username and per client "
            "address, against password guessing (needs the `RateLimiter`)."
        ),
    )
    login_per_username: list[str] = Field(
        default_factory=lambda: ["5/minute", "100/hour"],
        description=(
            "Login attempts one username may receive (case-folded; counted under a hash)."
        ),
    )
    login_per_address: list[str] = Field(
        default_factory=lambda: ["20/minute"],
        description="Token requests (password and refresh grants) one client address may send.",
    )
    login_fail_open: bool | None = Field(
        None,
        description=(
            "When the storage fails, let login attempts through or refuse them with a 503; "
            "`null` does as `fail_open` says."
        ),
    )


class IdempotencySettings(_Section):
    """How `fastapi_pro.idempotency` reads keys, how long records live, what replays carry."""

    enabled: bool = Field(
        True,
        description=(
            "Honour `Idempotency-Key`; with it off, keyed routes run every request and store "
            "nothing (a route that requires a key no longer asks for one)."
        ),
    )
    header: str = Field("Idempotency-Key", min_length=1, description="The key's request header.")
    replayed_header: str = Field(
        "Idempotent-Replayed",
        min_length=1,
        description="The response header (value `true`) that marks a replay.",
    )
    ttl: Duration = Field(
        timedelta(hours=24), gt=timedelta(0), description="How long a record is replayed."
    )
    max_key_length: int = Field(255, ge=1, le=255, description="The longest key accepted.")
    retry_after: int = Field(
        1, ge=0, description="`Retry-After` seconds of the 409 sent while the first request runs."
    )
    replay_headers: list[str] = Field(
        default_factory=lambda: [
            "content-type",
            "content-language",
            "location",
            "etag",
            "last-modified",
            "link",
        ],
        description="The response headers stored with a record and replayed.",
    )
    table: str = Field(
        "idempotency_records", min_length=1, description="The name of the records' table."
    )
