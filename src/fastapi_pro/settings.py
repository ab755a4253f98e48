"""Typed settings for every fastapi-pro block, read from the environment.

Variables use the prefix ``FASTAPI_PRO_`` and ``__`` between nested names, for example
``FASTAPI_PRO_DATABASE__URL`` or ``FASTAPI_PRO_AUTH__SECRET_KEY``. A ``.env`` file in the
working directory is read too. This is the only module that reads the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_HMAC_KEY_BYTES = 32
"""HMAC signing keys shorter than this are refused (RFC 7518 §3.2 for HS256)."""

JWTAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]
"""The JSON Web Signature algorithms fastapi-pro signs and verifies with."""


class DatabaseSettings(BaseModel):
    """Where the database is and how its connection pool behaves."""

    url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///./app.db"),
        description="SQLAlchemy async URL; a secret because it may carry a password.",
    )
    echo: bool = Field(False, description="Log every SQL statement.")
    pool_size: int = Field(5, ge=1, description="Connections kept open in the pool.")
    max_overflow: int = Field(10, ge=0, description="Extra connections allowed under load.")
    pool_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a free connection.")
    pool_recycle: int = Field(1800, description="Seconds before a connection is replaced.")
    pool_pre_ping: bool = Field(True, description="Test connections before handing them out.")
    cursor_secret: SecretStr | None = Field(
        None, description="Key that signs keyset cursors; set it when several workers serve."
    )


class AuthSettings(BaseModel):
    """How tokens are signed and checked."""

    secret_key: SecretStr | None = Field(
        None, description="HMAC signing key (HS* algorithms); at least 32 bytes."
    )
    algorithm: JWTAlgorithm = "HS256"
    access_token_ttl: timedelta = Field(timedelta(minutes=15), gt=timedelta(0))
    refresh_token_ttl: timedelta = Field(timedelta(days=14), gt=timedelta(0))
    issuer: str | None = Field(None, description="Expected and issued `iss` claim.")
    audience: str | None = Field(None, description="Expected and issued `aud` claim.")
    leeway: timedelta = Field(timedelta(0), ge=timedelta(0), description="Clock skew allowed.")

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


class ErrorSettings(BaseModel):
    """How errors are rendered as problem details."""

    type_base_uri: str | None = Field(
        None, description="When set, a problem's `type` is this prefix followed by its code."
    )
    include_validation_input: bool = Field(
        False, description="Echo submitted values in 422 responses (sensitive ones redacted)."
    )


class ObservabilitySettings(BaseModel):
    """Request ids, logging, metrics and tracing."""

    service_name: str = "fastapi-service"
    request_id_header: str = "X-Request-ID"
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = Field(False, description="One JSON object per log line (production).")
    metrics_enabled: bool = True
    tracing_enabled: bool = False
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)


class HealthSettings(BaseModel):
    """Liveness and readiness probes."""

    check_timeout: float = Field(0.8, gt=0, description="Seconds one check may take.")
    cache_ttl: float = Field(1.0, ge=0, description="Seconds a readiness result is reused.")


class CorsSettings(BaseModel):
    """Cross-origin resource sharing; empty `allow_origins` turns CORS off."""

    allow_origins: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"]
    )
    allow_headers: list[str] = Field(default_factory=lambda: ["Authorization", "Content-Type"])


class Settings(BaseSettings):
    """All fastapi-pro settings, one section per block.

    Example:
        ```python
        settings = Settings()  # FASTAPI_PRO_DATABASE__URL=postgresql+asyncpg://...
        settings.database.url.get_secret_value()
        ```
    """

    model_config = SettingsConfigDict(
        env_prefix="FASTAPI_PRO_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    errors: ErrorSettings = Field(default_factory=ErrorSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    prometheus_multiproc_dir: str | None = Field(
        None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="prometheus-client's own variable: several worker processes share metrics.",
    )
