"""The blocks that watch the service: logging, metrics, tracing and the middleware feeding them."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from opentelemetry.sdk.trace import TracerProvider

from fastapi_pro._shared.state import OBSERVABILITY
from fastapi_pro.app._lifespan import step
from fastapi_pro.app._services import PROBES, probe_prefix
from fastapi_pro.app._wiring import Block, Wiring, chosen
from fastapi_pro.observability import (
    Metrics,
    configure_logging,
    configure_tracing,
    install_observability,
    instrument_database,
)

_logger = logging.getLogger("fastapi_pro.app")


class LoggingBlock(Block):
    """Process-wide logging from ``observability``, first, so every later step logs through it."""

    def build(self, wiring: Wiring) -> None:
        """Configure logging when the switch and ``observability.logging_enabled`` allow."""
        config = wiring.settings.observability
        if wiring.options.logging and config.logging_enabled:
            configure_logging(level=config.log_level, json_lines=config.log_json)


class MetricsBlock(Block):
    """Prometheus metrics fed by the middleware and the blocks, and the route serving them."""

    def build(self, wiring: Wiring) -> None:
        """Use the given `Metrics`, or build one when ``observability.metrics_enabled``."""
        if not wiring.options.observability:  # the middleware feeds them: without it, none
            return
        settings = wiring.settings
        enabled = settings.observability.metrics_enabled

        def build() -> Metrics | None:
            return Metrics.from_settings(settings) if enabled else None

        wiring.add(metrics=chosen(wiring.options.metrics, Metrics, build))

    def install(self, wiring: Wiring) -> None:
        """Serve the metrics, feed them the other blocks' events, mark the process dead at exit."""
        metrics, parts = wiring.components.metrics, wiring.components
        if metrics is None:
            return
        if wiring.options.metrics_route:
            wiring.app.include_router(_metrics_router(wiring, metrics))
        if parts.auth is not None:
            metrics.track_auth(parts.auth)
        if parts.health is not None:
            metrics.track_health(parts.health)
        if parts.database is not None:
            metrics.track_database(parts.database)
        wiring.shutdown.append(step(metrics.mark_process_dead))


def _metrics_router(wiring: Wiring, metrics: Metrics) -> APIRouter:
    """The metrics route, behind ``observability.metrics_token`` when one is set."""
    settings = wiring.settings
    path, token = settings.observability.metrics_path, settings.observability.metrics_token
    secret = token.get_secret_value() if token is not None else None
    if secret is None and settings.environment == "production":
        _logger.warning(
            "%s is served without a token in production: anyone who reaches the service can "
            "read its metrics. Set observability.metrics_token "
            "(FASTAPI_PRO_OBSERVABILITY__METRICS_TOKEN), or keep the path off the public "
            "network.",
            path,
        )
    return metrics.router(path, token=secret)


class TracingBlock(Block):
    """The tracer provider of the requests' server spans, and the database's spans."""

    def build(self, wiring: Wiring) -> None:
        """Use the given provider, or configure one when ``observability.tracing_enabled``."""
        if not wiring.options.observability:  # the middleware opens the spans
            return
        wiring.add(
            tracer_provider=chosen(
                wiring.options.tracing, TracerProvider, lambda: _tracer_provider(wiring)
            )
        )

    def install(self, wiring: Wiring) -> None:
        """Trace the database's statements; flush the spans at shutdown if the provider is ours."""
        provider, database = wiring.components.tracer_provider, wiring.components.database
        if provider is None:
            return
        if database is not None:
            instrument_database(database, provider)
        if wiring.options.tracing is True:
            wiring.shutdown.append(step(provider.shutdown))  # exports the spans still buffered


def _tracer_provider(wiring: Wiring) -> TracerProvider | None:
    config = wiring.settings.observability
    if not config.tracing_enabled:
        return None
    return configure_tracing(
        service_name=config.service_name,
        service_version=wiring.app.version,
        sample_ratio=config.trace_sample_ratio,
        exporter=config.trace_exporter,
        otlp_endpoint=config.otlp_endpoint,
    )


class ObservabilityBlock(Block):
    """The one middleware that assigns request ids, times, records, traces and logs requests."""

    def check(self, wiring: Wiring) -> None:
        """Refuse an app whose middleware was installed by hand."""
        if wiring.options.observability:
            wiring.refuse_installed(OBSERVABILITY, "observability")

    def install(self, wiring: Wiring) -> None:
        """Install the middleware outermost, skipping the probes and the metrics scrape."""
        if not wiring.options.observability:
            return
        config, prefix = wiring.settings.observability, probe_prefix(wiring)
        install_observability(
            wiring.app,
            request_id_header=config.request_id_header,
            metrics=wiring.components.metrics,
            tracer_provider=wiring.components.tracer_provider,
            access_log=config.access_log_enabled,
            operation_spans=config.operation_spans,
            skip_paths={config.metrics_path, *(f"{prefix}/{probe}" for probe in PROBES)},
        )
