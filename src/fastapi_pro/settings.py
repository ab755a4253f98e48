"""Typed settings for every fastapi-pro block, read from the environment.

Variables use the prefix ``FASTAPI_PRO_`` and ``__`` between nested names, for example
``FASTAPI_PRO_DATABASE__URL`` or ``FASTAPI_PRO_AUTH__SECRET_KEY``. A ``.env`` file in the
working directory is read too. This is the only module that reads the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_HMAC_KEY_BYTES = 32
"""HMAC signing keys shorter than this are refused (RFC 7518 §3.2 for HS256)."""

DEFAULT_MAX_BODY_SIZE = 1_048_576
"""1 MiB: the request body limit `setup` applies unless the app or a route sets its own."""

JWTAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]
"""The JSON Web Signature algorithms fastapi-pro signs and verifies with."""


def _seconds(value: object) -> object:
    """Read ``"600"`` or ``"1.5"`` (as environment variables are) as seconds."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # an ISO 8601 duration or HH:MM:SS, for pydantic
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]
"""A duration given in seconds (``600``), as ISO 8601 (``PT10M``) or as ``HH:MM:SS``."""


API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""The policy of API responses: a JSON body needs no scripts, styles or frames."""

DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https:; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""The policy of FastAPI's Swagger UI and ReDoc pages: their assets come from public CDNs, and
Swagger UI starts from an inline script."""


class _Section(BaseModel):
    """A settings section: its validation errors never repeat the values (keys, URLs)."""

    model_config = ConfigDict(hide_input_in_errors=True)


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


class ErrorSettings(_Section):
    """How errors are rendered: as problem details, or in the shape an API already has."""

    shape: Literal["problem_details", "field_errors", "fastapi_detail"] = Field(
        "problem_details",
        description='The error body: RFC 9457 problem details, `{"errors": {field: '
        '[messages]}}`, or FastAPI\'s `{"detail": ...}`.',
    )
    validation_status: int = Field(
        422, ge=400, le=499, description="The status of a request that failed validation."
    )
    type_base_uri: str | None = Field(
        None, description="When set, a problem's `type` is this prefix followed by its code."
    )
    include_validation_input: bool = Field(
        False, description="Echo submitted values in 422 responses (sensitive ones redacted)."
    )


class ObservabilitySettings(_Section):
    """Request ids, logging, metrics and tracing."""

    service_name: str = Field(
        "fastapi-service", description="`service.name` of traces; names the service in logs."
    )
    request_id_header: str = Field(
        "X-Request-ID", description="The header that carries the request id, in and out."
    )
    logging_enabled: bool = Field(
        True, description="Let `setup` configure logging (loguru, stdlib loggers routed into it)."
    )
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="The minimum level logged."
    )
    log_json: bool = Field(False, description="One JSON object per log line (production).")
    access_log_enabled: bool = Field(True, description="Write one access-log line per request.")
    metrics_enabled: bool = Field(True, description="Record Prometheus metrics.")
    metrics_path: str = Field("/metrics", description="Where Prometheus scrapes the metrics.")
    metrics_token: SecretStr | None = Field(
        None, description="When set, scraping needs `Authorization: Bearer <token>`."
    )
    tracing_enabled: bool = Field(
        False,
        description="Trace requests with a tracer provider of fastapi-pro's own (exporter and "
        "sampling below). Off, requests are still traced, once, when OpenTelemetry has a global "
        "tracer provider and FastAPI's own tracing is on.",
    )
    operation_spans: bool = Field(
        False,
        description="Keep FastAPI's own server span with its `fastapi.dependencies`, "
        "`fastapi.endpoint` and `fastapi.serialization` child spans (about 70 µs a request).",
    )
    trace_sample_ratio: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of new traces sampled."
    )
    trace_exporter: Literal["none", "console", "otlp"] = Field(
        "none", description="Where spans go; `otlp` needs the `otlp` extra."
    )
    otlp_endpoint: str | None = Field(
        None, description="The OTLP/HTTP traces endpoint; the exporter's default when unset."
    )


class HealthSettings(_Section):
    """Liveness and readiness probes."""

    check_timeout: float = Field(0.8, gt=0, description="Seconds one check may take.")
    cache_ttl: float = Field(1.0, ge=0, description="Seconds a readiness result is reused.")
    path_prefix: str = Field(
        "/health", description="The probes are served at `<prefix>/live`, `/ready`, `/startup`."
    )


class CorsSettings(_Section):
    """Cross-origin resource sharing; empty `allow_origins` turns CORS off."""

    allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API; `*` allows any."
    )
    allow_credentials: bool = Field(False, description="Allow cookies and `Authorization`.")
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="Methods allowed in cross-origin requests.",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type"],
        description="Request headers allowed in cross-origin requests.",
    )
    expose_headers: list[str] = Field(
        default_factory=list, description="Response headers the browser lets scripts read."
    )
    max_age: int = Field(600, ge=0, description="Seconds a browser may cache a preflight answer.")


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


class SecurityHeadersSettings(_Section):
    """Security headers added to every HTTP response (those the app sets itself are kept)."""

    enabled: bool = Field(True, description="Add the headers below to every response.")
    frame_options: Literal["DENY", "SAMEORIGIN"] | None = Field(
        "DENY", description="`X-Frame-Options`; `null` sends none."
    )
    referrer_policy: str | None = Field(
        "no-referrer", description="`Referrer-Policy`; `null` sends none."
    )
    content_security_policy: str | None = Field(
        API_CONTENT_SECURITY_POLICY,
        description="`Content-Security-Policy` of every response but the docs pages.",
    )
    docs_content_security_policy: str | None = Field(
        DOCS_CONTENT_SECURITY_POLICY,
        description="`Content-Security-Policy` of the Swagger UI and ReDoc pages.",
    )
    hsts_enabled: bool = Field(
        False, description="Send `Strict-Transport-Security`: only when every client uses HTTPS."
    )
    hsts_max_age: int = Field(
        31_536_000, ge=0, description="Seconds browsers remember to use HTTPS only."
    )
    hsts_include_subdomains: bool = Field(True, description="HSTS covers every subdomain too.")
    hsts_preload: bool = Field(False, description="Ask to be on the browsers' preload list.")


class DocsSettings(_Section):
    """Where the Swagger UI and ReDoc pages load their JavaScript and CSS from."""

    self_hosted: bool = Field(
        False,
        description=(
            "Serve the docs pages' assets from the app instead of public CDNs, so `/docs` works "
            "in a closed network (the `self-hosted-docs` extra)."
        ),
    )
    assets_path: str | None = Field(
        None,
        pattern=r"^(/[A-Za-z0-9._~-]+)+$",  # self_hosted_docs.ASSETS_PATH_PATTERN
        description="Where the assets are served; `<docs_url>/assets` when unset.",
    )
    assets_directory: str | None = Field(
        None,
        description="A directory holding the assets; the `self-hosted-docs` extra's when unset.",
    )


class Settings(BaseSettings):
    """All fastapi-pro settings, one section per block.

    Example:
        ```python
        settings = Settings()  # FASTAPI_PRO_DATABASE__URL=postgresql+asyncpg://...
        settings.database.url.get_secret_value()
        ```
    """

    model_config = SettingsConfigDict(
        hide_input_in_errors=True,
        env_prefix="FASTAPI_PRO_",
        env_nested_delimiter="__",
        env_parse_none_str="null",  # FASTAPI_PRO_SECURITY_HEADERS__REFERRER_POLICY=null: none
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="In `production`, `setup` refuses to start without a signing key.",
    )
    max_body_size: int | None = Field(
        DEFAULT_MAX_BODY_SIZE,
        ge=0,
        description=(
            "The largest request body accepted, in bytes (`null`: no limit); a larger one is "
            "a 413 problem. The app's, a router's or a route's own `max_body_size` wins."
        ),
    )
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings, description="The data layer (`Database`)."
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Tokens and their store.")
    errors: ErrorSettings = Field(
        default_factory=ErrorSettings, description="Problem-details rendering."
    )
    observability: ObservabilitySettings = Field(
        default_factory=ObservabilitySettings,
        description="Request ids, logging, metrics and tracing.",
    )
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="Liveness and readiness probes."
    )
    cors: CorsSettings = Field(
        default_factory=CorsSettings, description="Cross-origin resource sharing."
    )
    redis: RedisSettings = Field(
        default_factory=RedisSettings, description="A Redis server, when the service has one."
    )
    ratelimit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="Rate limits on routes."
    )
    security_headers: SecurityHeadersSettings = Field(
        default_factory=SecurityHeadersSettings, description="Security headers on responses."
    )
    docs: DocsSettings = Field(
        default_factory=DocsSettings, description="The Swagger UI and ReDoc pages' assets."
    )
    prometheus_multiproc_dir: str | None = Field(
        None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="prometheus-client's own variable: several worker processes share metrics.",
    )


__all__ = [
    "API_CONTENT_SECURITY_POLICY",
    "DEFAULT_MAX_BODY_SIZE",
    "DOCS_CONTENT_SECURITY_POLICY",
    "MIN_HMAC_KEY_BYTES",
    "AuthSettings",
    "CorsSettings",
    "DatabaseSettings",
    "DocsSettings",
    "Duration",
    "ErrorSettings",
    "HealthSettings",
    "JWTAlgorithm",
    "ObservabilitySettings",
    "RateLimitSettings",
    "RateLimitStrategy",
    "RedisSettings",
    "SecurityHeadersSettings",
    "Settings",
]
