"""Typed settings for every fastapi-pro block, read from the environment.

Variables use the prefix ``FASTAPI_PRO_`` and ``__`` between nested names, for example
``FASTAPI_PRO_DATABASE__URL`` or ``FASTAPI_PRO_AUTH__SECRET_KEY``. A ``.env`` file in the
working directory is read too. This is the only package that reads the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fastapi_pro.settings._common import (
    API_CONTENT_SECURITY_POLICY,
    DEFAULT_MAX_BODY_SIZE,
    DOCS_CONTENT_SECURITY_POLICY,
    MIN_HMAC_KEY_BYTES,
    Duration,
    JWTAlgorithm,
)
from fastapi_pro.settings._http import (
    CorsSettings,
    DocsSettings,
    ErrorSettings,
    ObservabilitySettings,
    SecurityHeadersSettings,
)
from fastapi_pro.settings._services import (
    AuthSettings,
    DatabaseSettings,
    HealthSettings,
    IdempotencySettings,
    RateLimitSettings,
    RateLimitStrategy,
    RedisSettings,
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
        default_factory=ErrorSettings,
        description="How errors are rendered: their shape and statuses.",
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
    idempotency: IdempotencySettings = Field(
        default_factory=IdempotencySettings, description="Idempotency keys on unsafe requests."
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
    "IdempotencySettings",
    "JWTAlgorithm",
    "ObservabilitySettings",
    "RateLimitSettings",
    "RateLimitStrategy",
    "RedisSettings",
    "SecurityHeadersSettings",
    "Settings",
]
