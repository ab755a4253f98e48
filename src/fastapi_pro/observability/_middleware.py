"""One pure-ASGI middleware: request id, log context, metrics, a server span and an access line."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from loguru import logger
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_pro.__about__ import __version__
from fastapi_pro._request_id import (
    DEFAULT_REQUEST_ID_HEADER,
    is_valid_request_id,
    new_request_id,
)
from fastapi_pro._stack import install_outermost
from fastapi_pro.errors._problem import ProblemResponse, problem_body
from fastapi_pro.observability._logging import write_access_log
from fastapi_pro.observability._metrics import Metrics, normalize_method
from fastapi_pro.observability._routes import UNMATCHED, RouteTemplates

DEFAULT_SKIP_PATHS = frozenset({"/metrics", "/health/live", "/health/ready", "/health/startup"})
"""Paths measured by nothing but the request id: scrapes and probes."""

_PROPAGATOR = TraceContextTextMapPropagator()
_DISCONNECTED = 499  # no response was sent: the client went away (nginx's convention)
_STATUS = {status: str(status) for status in range(100, 600)}
INSTALLED_STATE_KEY = "fastapi_pro_observability"
METRICS_STATE_KEY = "fastapi_pro_metrics"
TRACER_PROVIDER_STATE_KEY = "fastapi_pro_tracer_provider"


class ObservabilityMiddleware:
    """Request id, log context, Prometheus metrics, an OpenTelemetry span and an access log.

    Pure ASGI, one pass per request. Install it with `install_observability` so that it wraps
    the whole app, Starlette's error middleware included: then unhandled 500s are measured and
    carry the request id too. Each part can be switched off.

    Args:
        app: The ASGI app to wrap.
        request_id: Give every response an ``X-Request-ID``; keep a well-formed incoming one.
        request_id_header: The header name.
        reject_invalid_request_id: Answer 400 to a malformed incoming id instead of replacing it.
        metrics: Record ``http_server_*`` metrics into this `Metrics`.
        tracer_provider: Open one server span per request (W3C ``traceparent`` honoured).
        access_log: Write one access-log line per request.
        log_context: Bind ``request_id``, ``trace_id`` and ``span_id`` to every record logged
            during the request, background tasks included.
        skip_paths: Paths that get a request id and nothing else.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        request_id: bool = True,
        request_id_header: str = DEFAULT_REQUEST_ID_HEADER,
        reject_invalid_request_id: bool = False,
        metrics: Metrics | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        access_log: bool = True,
        log_context: bool = True,
        skip_paths: Iterable[str] = DEFAULT_SKIP_PATHS,
    ) -> None:
        self.app = app
        self.request_id = request_id
        self.header_name = request_id_header
        self._header = request_id_header.lower().encode("latin-1")
        self.reject_invalid = reject_invalid_request_id
        self.metrics = metrics
        self._tracer = (
            tracer_provider.get_tracer("fastapi_pro", __version__) if tracer_provider else None
        )
        self.access_log = access_log
        self.log_context = log_context
        self.skip_paths = frozenset(skip_paths)
        self._routes = RouteTemplates()
        self._exemplars = metrics is not None and metrics.multiprocess_dir is None
        self._measures = bool(metrics or tracer_provider or access_log or log_context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming: bytes | None = None
        traceparent: bytes | None = None
        tracestate: bytes | None = None
        for name, value in scope["headers"]:
            if name == self._header:
                incoming = value
            elif name == b"traceparent":
                traceparent = value
            elif name == b"tracestate":
                tracestate = value
        request_id = None
        if self.request_id:
            request_id = self._request_id(incoming)
            if request_id is None:
                await self._reject(scope, receive, send)
                return
            scope.setdefault("state", {})["request_id"] = request_id
        if not self._measures or scope["path"] in self.skip_paths:
            await self.app(scope, receive, self._stamping(send, request_id))
            return
        await _Request(self, scope, request_id, traceparent, tracestate).run(receive, send)

    def _request_id(self, incoming: bytes | None) -> str | None:
        if incoming is not None:
            try:
                text = incoming.decode("ascii")
            except UnicodeDecodeError:
                text = ""
            if is_valid_request_id(text):
                return text
            if self.reject_invalid:
                return None
        return new_request_id()

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        body = problem_body(
            400,
            "invalid_request_id",
            "Bad Request",
            detail=f"The {self.header_name} header must be 1 to 128 characters of "
            "letters, digits and . _ : @ + = / -",
            request_id=request_id,
        )
        response = ProblemResponse(body, status_code=400, headers={self.header_name: request_id})
        await response(scope, receive, send)

    def _stamping(self, send: Send, request_id: str | None) -> Send:
        if request_id is None:
            return send
        header = (self._header, request_id.encode("ascii"))

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                for name, _ in headers:
                    if name == header[0]:  # an error handler stamped it already
                        break
                else:
                    message["headers"] = [*headers, header]
            await send(message)

        return stamped


class _Request:
    """The measurement of one request, finished once, when its last body byte is sent."""

    __slots__ = (
        "context",
        "finished",
        "label_method",
        "method",
        "middleware",
        "request_bytes",
        "request_id",
        "response_bytes",
        "root_path",
        "scope",
        "span",
        "span_method",
        "start_ns",
        "status",
        "traceparent",
        "tracestate",
    )

    def __init__(
        self,
        middleware: ObservabilityMiddleware,
        scope: Scope,
        request_id: str | None,
        traceparent: bytes | None,
        tracestate: bytes | None,
    ) -> None:
        self.middleware = middleware
        self.scope = scope
        self.request_id = request_id
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.method: str = scope["method"]
        self.label_method = normalize_method(self.method)
        # Span names never carry a client-chosen method (the conventions' "HTTP" for those).
        self.span_method = "HTTP" if self.label_method == "_OTHER" else self.method
        self.root_path: str = scope.get("root_path", "")
        self.status = 0
        self.request_bytes = 0
        self.response_bytes = 0
        self.finished = False
        self.span: Any = None
        self.start_ns = 0
        self.context: dict[str, str] = {}

    async def run(self, receive: Receive, send: Send) -> None:
        m = self.middleware
        self.start_ns = time.time_ns()
        otel_token = None
        log_scope: Any = None
        if m._tracer is not None:
            parent = None
            if self.traceparent is not None:
                carrier = {"traceparent": self.traceparent.decode("latin-1")}
                if self.tracestate is not None:
                    carrier["tracestate"] = self.tracestate.decode("latin-1")
                parent = _PROPAGATOR.extract(carrier)
            self.span = m._tracer.start_span(
                self.span_method,
                context=parent,
                kind=SpanKind.SERVER,
                start_time=self.start_ns,
                attributes=self._span_attributes(),
            )
            otel_token = otel_context.attach(trace.set_span_in_context(self.span, parent))
        self.context = self._log_fields()
        if m.log_context:
            log_scope = logger.contextualize(**self.context)
            log_scope.__enter__()
        if m.metrics is not None:
            m.metrics.http.started(self.label_method)
        try:
            await m.app(self.scope, self._receive(receive), self._send(send))
        except BaseException as error:
            if not self.finished:
                self.finish(500 if self.status == 0 else self.status, error)
            raise
        finally:
            if not self.finished:
                self.finish(self.status or _DISCONNECTED, None)
            if log_scope is not None:
                log_scope.__exit__(None, None, None)
            if otel_token is not None:
                otel_context.detach(otel_token)

    def _log_fields(self) -> dict[str, str]:
        fields = {"request_id": self.request_id or ""}
        if self.span is not None:
            span_context = self.span.get_span_context()
            if span_context.is_valid:
                fields["trace_id"] = format(span_context.trace_id, "032x")
                fields["span_id"] = format(span_context.span_id, "016x")
        return fields

    def _span_attributes(self) -> dict[str, Any]:
        # The semantic conventions' required attributes, plus the client address; each
        # attribute costs about a microsecond in the SDK, so the rest are left out.
        scope = self.scope
        method = normalize_method(self.method)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if method != self.method:
            attributes["http.request.method_original"] = self.method
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        return attributes

    def _receive(self, receive: Receive) -> Receive:
        if self.middleware.metrics is None:
            return receive

        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.request_bytes += len(message.get("body", b""))
            return message

        return counting

    def _send(self, send: Send) -> Send:
        header_name = self.middleware._header
        header = (header_name, self.request_id.encode("ascii")) if self.request_id else None

        async def measured(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                self.status = message["status"]
                if header is not None:
                    headers = message.get("headers", ())
                    for name, _ in headers:
                        if name == header_name:  # an error handler stamped it already
                            break
                    else:
                        message["headers"] = [*headers, header]
            elif kind == "http.response.body":
                self.response_bytes += len(message.get("body", b""))
                if not message.get("more_body", False) and not self.finished:
                    self.finish(self.status, None)  # before background tasks run
            await send(message)

        return measured

    def finish(self, status: int, error: BaseException | None) -> None:
        """Record metrics, end the span and write the access line, all at one instant."""
        self.finished = True
        end_ns = time.time_ns()
        m = self.middleware
        route = m._routes.resolve(self.scope, self.root_path)
        duration = (end_ns - self.start_ns) / 1e9
        method = self.label_method
        if m.metrics is not None:
            trace_id = None
            if self.span is not None and m._exemplars and self.span.is_recording():
                trace_id = self.context.get("trace_id")
            m.metrics.http.finished(
                (method, route, _STATUS.get(status) or str(status)),
                duration,
                self.request_bytes,
                self.response_bytes,
                trace_id,
            )
        if self.span is not None:
            self._end_span(route, status, error, end_ns)
        if m.access_log:
            client = self.scope.get("client")
            write_access_log(
                {
                    "method": self.method,
                    "route": route,
                    "path": self.scope["path"],
                    "status": status,
                    "duration_ms": int(duration * 1_000_000) / 1000,
                    "client": f"{client[0]}:{client[1]}" if client else None,
                },
                self.context,
            )

    def _end_span(self, route: str, status: int, error: BaseException | None, end_ns: int) -> None:
        span = self.span
        attributes: dict[str, Any] = {}
        if route != UNMATCHED:
            span.update_name(f"{self.span_method} {route}")
            attributes["http.route"] = route
        if status and status != _DISCONNECTED:
            attributes["http.response.status_code"] = status
        span.set_attributes(attributes)
        if error is not None:
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        elif status >= 500:  # noqa: PLR2004 - 5xx are server errors
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end_ns)


def install_observability(app: Any, **options: Any) -> None:
    """Wrap ``app``'s whole middleware stack in an `ObservabilityMiddleware`.

    Starlette's error middleware is wrapped too, so unhandled 500s are measured and carry the
    request id.

    Args:
        app: A FastAPI or Starlette application, before it serves its first request.
        **options: The keyword arguments of `ObservabilityMiddleware`.

    Raises:
        RuntimeError: If the app already serves requests, or this was called twice.
    """
    install_outermost(
        app,
        lambda inner: ObservabilityMiddleware(inner, **options),
        installer="install_observability",
        key=INSTALLED_STATE_KEY,
    )
    # Recorded so tools (the pytest plugin's captured metrics and spans) find what the app uses.
    setattr(app.state, METRICS_STATE_KEY, options.get("metrics"))
    setattr(app.state, TRACER_PROVIDER_STATE_KEY, options.get("tracer_provider"))
