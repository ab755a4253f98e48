"""The sections of the blocks at the HTTP edge: errors, observability, CORS, headers, docs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from fastapi_pro.settings._common import (
    API_CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    _Section,
)


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
