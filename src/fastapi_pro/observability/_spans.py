"""One server span per request, whoever else traces: FastAPI's native telemetry, OTel contrib.

FastAPI (0.165 and later) traces every request itself as soon as OpenTelemetry has a global
tracer provider: a server span and three operation spans, outside the app's middleware. The
observability middleware's span is cheaper and carries the request id, so `adopt_native_telemetry`
turns FastAPI's tracing off and hands its provider choice to the middleware: one span, in the
provider FastAPI would have used. With ``operation_spans`` FastAPI keeps tracing (its operation
spans need its own server span) and the middleware adds its fields to that span instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from opentelemetry import _logs, trace
from opentelemetry import metrics as otel_metrics
from opentelemetry.trace import INVALID_SPAN, SpanKind
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fastapi_pro._shared.state import AppSlot

GLOBAL: Literal["global"] = "global"
"""Trace with OpenTelemetry's global tracer provider, once one is configured."""

TracerChoice = trace.TracerProvider | Literal["global"] | None

# The API's placeholders before a provider is set; anything else is a configured provider.
_UNSET = frozenset(
    {
        "ProxyTracerProvider",
        "NoOpTracerProvider",
        "_ProxyMeterProvider",
        "NoOpMeterProvider",
        "ProxyLoggerProvider",
        "NoOpLoggerProvider",
    }
)
_RECHECK_SECONDS = 1.0
_PROVIDER_KEYS = {"metrics": "meter_provider", "logs": "logger_provider"}
_CONTRIB_MIDDLEWARE = ("opentelemetry.instrumentation.asgi", "OpenTelemetryMiddleware")


def is_configured(provider: Any) -> bool:
    """Tell whether ``provider`` records (not one of the API's proxy or no-op placeholders)."""
    cls = type(provider)
    return not (cls.__module__.startswith("opentelemetry.") and cls.__name__ in _UNSET)


class Adopted(NamedTuple):
    """Who opens an app's server spans, and the provider every span of its requests lands in."""

    middleware: TracerChoice
    """The middleware's tracer choice; ``None`` when FastAPI opens the server span itself."""
    traced_in: TracerChoice
    """The provider the app's spans are recorded in (what `tracer_provider_of` reports)."""


def adopt_native_telemetry(
    app: Any,
    tracer_provider: TracerChoice,
    *,
    metrics: bool,
    operation_spans: bool,
) -> Adopted:
    """Make FastAPI's native telemetry and the middleware one system.

    The app traces in ``tracer_provider`` when given, else FastAPI's own
    ``telemetry={"tracer_provider": ...}``, else the global provider when FastAPI's tracing is
    on (its default). The middleware opens the server span there, unless ``operation_spans``
    keeps FastAPI's own one: FastAPI then traces in that same provider. FastAPI's HTTP metrics
    are turned off when the middleware records Prometheus ones, so no request is counted twice;
    its metrics and exception logs stay on only where an OpenTelemetry provider for them is
    configured when this runs (FastAPI would otherwise look for one at every request).
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):  # Starlette, or a FastAPI without native telemetry
        return Adopted(tracer_provider, tracer_provider)
    choice: TracerChoice = tracer_provider or config.get("tracer_provider")
    if choice is None and config.get("tracing", False):
        choice = GLOBAL
    config["metrics"] = not metrics and _kept(config, "metrics", otel_metrics.get_meter_provider)
    config["logs"] = _kept(config, "logs", _logs.get_logger_provider)
    config["tracing"] = operation_spans and choice is not None
    if not operation_spans:
        return Adopted(choice, choice)
    # FastAPI's server span is the one: its operation spans need it. The middleware enriches it.
    config["operation_spans"] = True
    if isinstance(choice, trace.TracerProvider):
        config["tracer_provider"] = choice
    return Adopted(None, choice)


def _kept(config: dict[str, Any], signal: str, global_provider: Callable[[], Any]) -> bool:
    """Whether FastAPI's ``signal`` stays on: it is on, and has a provider to record into."""
    if not config.get(signal, False):
        return False
    explicit = config.get(_PROVIDER_KEYS[signal])
    return explicit is not None or is_configured(global_provider())


def is_contrib_middleware(stack: Any) -> bool:
    """Tell whether ``stack`` is OTel contrib's ASGI middleware (it opens its own server span)."""
    cls = type(stack)
    return (cls.__module__, cls.__name__) == _CONTRIB_MIDDLEWARE


def current_server_span() -> Any:
    """The recording server span of this request opened outside the middleware, or ``None``."""
    span = trace.get_current_span()
    if span is INVALID_SPAN:  # no span at all: the common case, answered without a lookup
        return None
    if getattr(span, "kind", None) is SpanKind.SERVER and span.is_recording():
        return span
    return None


class Tracers:
    """The tracer for a request: a fixed provider's, or the global provider's once it is set.

    OpenTelemetry's global provider is set once per process and never replaced; until it is,
    it is looked for again at most once a second, so an untraced request pays no lookup.
    """

    __slots__ = ("_global", "_recheck_at", "_tracer", "name", "version")

    def __init__(self, choice: TracerChoice, name: str, version: str) -> None:
        self.name, self.version = name, version
        self._global = choice == GLOBAL
        self._tracer = (
            choice.get_tracer(name, version) if isinstance(choice, trace.TracerProvider) else None
        )
        self._recheck_at = 0.0

    def get(self) -> trace.Tracer | None:
        """The tracer to open this request's span with, or ``None`` when nothing traces."""
        if self._tracer is not None or not self._global:
            return self._tracer
        now = time.monotonic()
        if now < self._recheck_at:
            return None
        self._recheck_at = now + _RECHECK_SECONDS
        provider = trace.get_tracer_provider()
        if is_configured(provider):
            self._tracer = provider.get_tracer(self.name, self.version)
        return self._tracer


class AppTracing:
    """The tracer provider an app's requests are traced in, as `install_observability` chose it."""

    __slots__ = ("choice",)

    def __init__(self, choice: TracerChoice) -> None:
        self.choice = choice

    def provider(self) -> trace.TracerProvider | None:
        """The provider now: the global one only once it is configured; ``None`` when off."""
        if not isinstance(self.choice, str):
            return self.choice
        provider = trace.get_tracer_provider()
        return provider if is_configured(provider) else None


TRACING: AppSlot[AppTracing] = AppSlot(
    "fastapi_pro_tracer_provider",
    AppTracing,
    missing=(
        "Tracing is off for this app: give install_observability() a tracer_provider (or "
        "enable observability.tracing_enabled for setup())."
    ),
)
"""How the requests of an app `install_observability` ran on are traced."""


def tracer_provider_of(source: HTTPConnection | Starlette) -> trace.TracerProvider:
    """Return the tracer provider the requests of an app are traced in.

    Args:
        source: The app, or a request or websocket it serves.

    Raises:
        RuntimeError: When the app traces nothing: `install_observability` had no
            ``tracer_provider``, or traces with OpenTelemetry's global provider and none is set.
    """
    provider = TRACING.get(source).provider()
    if provider is None:
        raise RuntimeError(TRACING.missing)
    return provider
