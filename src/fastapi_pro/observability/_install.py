"""`install_observability`: the middleware outermost on an app, FastAPI's telemetry folded in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp

from fastapi_pro._shared.request_id import DEFAULT_REQUEST_ID_HEADER
from fastapi_pro._shared.stack import install_outermost
from fastapi_pro._shared.state import OBSERVABILITY
from fastapi_pro.observability._metrics import METRICS, Metrics
from fastapi_pro.observability._middleware import DEFAULT_SKIP_PATHS, ObservabilityMiddleware
from fastapi_pro.observability._spans import (
    TRACING,
    AppTracing,
    TracerChoice,
    adopt_native_telemetry,
    is_contrib_middleware,
)

_CONTRIB_DEPTH = 4  # ServerErrorMiddleware -> OpenTelemetryMiddleware -> ... in contrib's stack


def install_observability(
    app: Any,
    *,
    request_id: bool = True,
    request_id_header: str = DEFAULT_REQUEST_ID_HEADER,
    reject_invalid_request_id: bool = False,
    metrics: Metrics | None = None,
    tracer_provider: TracerChoice = None,
    access_log: bool = True,
    log_context: bool = True,
    skip_paths: Iterable[str] = DEFAULT_SKIP_PATHS,
    operation_spans: bool = False,
) -> None:
    """Wrap ``app``'s whole middleware stack in an `ObservabilityMiddleware`.

    Starlette's error middleware is wrapped too, so unhandled 500s are measured and carry the
    request id. On a FastAPI app, FastAPI's native telemetry is folded in: a request gets one
    server span, in ``tracer_provider`` or else the provider FastAPI would have traced with
    (its ``telemetry={"tracer_provider": ...}``, or OpenTelemetry's global one), and FastAPI's
    OTel HTTP metrics are off when ``metrics`` records Prometheus ones.

    The options are those of `ObservabilityMiddleware`, plus ``operation_spans``. The app's
    `Metrics` and tracer provider are found again with `Metrics.of` and `tracer_provider_of`.

    Args:
        app: A FastAPI or Starlette application, before it serves its first request.
        request_id: Give every response an ``X-Request-ID``; keep a well-formed incoming one.
        request_id_header: The header name.
        reject_invalid_request_id: Answer 400 to a malformed incoming id instead of replacing it.
        metrics: Record ``http_server_*`` metrics into this `Metrics`.
        tracer_provider: Open one server span per request in this provider, or in
            OpenTelemetry's global provider once one is configured (``"global"``).
        access_log: Write one access-log line per request.
        log_context: Make ``request_id``, ``trace_id`` and ``span_id`` part of every record
            logged during the request.
        skip_paths: Paths that get a request id and nothing else.
        operation_spans: Keep FastAPI's own server span and its ``fastapi.dependencies``,
            ``fastapi.endpoint`` and ``fastapi.serialization`` spans (the middleware adds the
            request id to that span and opens none).

    Raises:
        RuntimeError: If the app already serves requests, or this was called twice.
    """

    def middleware(stack: ASGIApp) -> ASGIApp:  # called when the stack is built: choice is set
        return ObservabilityMiddleware(
            stack,
            request_id=request_id,
            request_id_header=request_id_header,
            reject_invalid_request_id=reject_invalid_request_id,
            metrics=metrics,
            tracer_provider=choice,
            access_log=access_log,
            log_context=log_context,
            skip_paths=skip_paths,
        )

    install_outermost(app, lambda stack: _inside_contrib(stack, middleware), flag=OBSERVABILITY)
    choice, traced_in = adopt_native_telemetry(
        app, tracer_provider, metrics=metrics is not None, operation_spans=operation_spans
    )
    # Kept on the app, so tools (the pytest plugin's captured metrics and spans) find them:
    # the provider its spans land in, whether the middleware or FastAPI opens the server span.
    METRICS.put(app, metrics)
    TRACING.put(app, AppTracing(traced_in))


def _inside_contrib(stack: ASGIApp, middleware: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    """Wrap ``stack`` in ``middleware``; inside OTel contrib's middleware when the stack holds one.

    Contrib's span is then opened first, and the middleware adds to it rather than opening a
    second one (``FastAPIInstrumentor`` puts its middleware near the top of the stack).
    """
    node: Any = stack
    for _ in range(_CONTRIB_DEPTH):
        node = getattr(node, "app", None)
        if node is None:
            break
        if is_contrib_middleware(node):
            node.app = middleware(node.app)
            return stack
    return middleware(stack)
