"""One server span per request, whoever else traces: FastAPI's native telemetry, OTel contrib.

FastAPI (0.165 and later) traces every request itself as soon as OpenTelemetry has a global
tracer provider: a server span and three operation spans, outside the app's middleware. The
observability middleware's span is cheaper and carries the request id, so `adopt_native_telemetry`
turns FastAPI's tracing off and hands its provider choice to the middleware: one span, in the
provider FastAPI would have used. With ``operation_spans`` FastAPI keeps tracing (its operation
spans need its own server span) and the middleware adds its fields to that span instead.
"""

from __future__ import annotations

from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.trace import SpanKind

GLOBAL: Literal["global"] = "global"
"""Trace with OpenTelemetry's global tracer provider, once one is configured."""

TracerChoice = trace.TracerProvider | Literal["global"] | None

# The API's placeholders before a provider is set; anything else is a configured provider.
_UNSET = frozenset({"ProxyTracerProvider", "NoOpTracerProvider"})
_CONTRIB_MIDDLEWARE = ("opentelemetry.instrumentation.asgi", "OpenTelemetryMiddleware")


def is_configured(provider: Any) -> bool:
    """Tell whether ``provider`` records spans (not the API's proxy or no-op placeholder)."""
    cls = type(provider)
    return not (cls.__module__.startswith("opentelemetry.trace") and cls.__name__ in _UNSET)


def adopt_native_telemetry(
    app: Any,
    tracer_provider: TracerChoice,
    *,
    metrics: bool,
    operation_spans: bool,
) -> TracerChoice:
    """Make FastAPI's native telemetry and the middleware one system.

    Returns the middleware's tracer choice.
    The middleware traces with ``tracer_provider`` when given, else with FastAPI's own
    ``telemetry={"tracer_provider": ...}``, else with the global provider when FastAPI's
    tracing is on (its default). FastAPI's HTTP metrics are turned off when the middleware
    records Prometheus ones, so no request is counted twice.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):  # Starlette, or a FastAPI without native telemetry
        return tracer_provider
    choice: TracerChoice = tracer_provider or config.get("tracer_provider")
    if choice is None and config.get("tracing", False):
        choice = GLOBAL
    if metrics:
        config["metrics"] = False
    if operation_spans:  # FastAPI's server span is the one; the middleware enriches it
        config["tracing"] = choice is not None
        config["operation_spans"] = True
        if isinstance(choice, trace.TracerProvider):
            config["tracer_provider"] = choice
        return None
    config["tracing"] = False
    return choice


def is_contrib_middleware(stack: Any) -> bool:
    """Tell whether ``stack`` is OTel contrib's ASGI middleware (it opens its own server span)."""
    cls = type(stack)
    return (cls.__module__, cls.__name__) == _CONTRIB_MIDDLEWARE


def current_server_span() -> Any:
    """The recording server span of this request opened outside the middleware, or ``None``."""
    span = trace.get_current_span()
    if getattr(span, "kind", None) is SpanKind.SERVER and span.is_recording():
        return span
    return None


class Tracers:
    """The tracer for a request: a fixed provider's, or the global provider's as it is now."""

    __slots__ = ("_fixed", "_global", "_provider", "_tracer", "name", "version")

    def __init__(self, choice: TracerChoice, name: str, version: str) -> None:
        self._global = choice == GLOBAL
        self._fixed = (
            choice.get_tracer(name, version) if isinstance(choice, trace.TracerProvider) else None
        )
        self._provider: Any = None
        self._tracer: trace.Tracer | None = None
        self.name, self.version = name, version

    def __bool__(self) -> bool:
        return self._fixed is not None or self._global

    def get(self) -> trace.Tracer | None:
        """The tracer to open this request's span with, or ``None`` when nothing traces."""
        if self._fixed is not None:
            return self._fixed
        if not self._global:
            return None
        provider = trace.get_tracer_provider()
        if provider is not self._provider:
            self._provider = provider
            self._tracer = (
                provider.get_tracer(self.name, self.version) if is_configured(provider) else None
            )
        return self._tracer
