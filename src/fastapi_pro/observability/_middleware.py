"""One pure-ASGI middleware: request id, log context, metrics, a server span and an access line."""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_pro.__about__ import __version__
from fastapi_pro._shared.request_id import (
    DEFAULT_REQUEST_ID_HEADER,
    is_valid_request_id,
    new_request_id,
)
from fastapi_pro.errors import Problem, renderer_of
from fastapi_pro.observability._logging import REQUEST_ID_CONTEXT as _REQUEST_ID
from fastapi_pro.observability._logging import write_access_log
from fastapi_pro.observability._metrics import Metrics, normalize_method
from fastapi_pro.observability._routes import UNMATCHED, RouteTemplates, app_path
from fastapi_pro.observability._spans import (
    TracerChoice,
    Tracers,
    current_server_span,
)

DEFAULT_SKIP_PATHS = frozenset({"/metrics", "/health/live", "/health/ready", "/health/startup"})
"""Paths measured by nothing but the request id: scrapes and probes."""

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
_Carrier = dict[str, str]
_DISCONNECTED = 499  # no response was sent: the client went away (nginx's convention)
_STATUS = {status: str(status) for status in range(100, 600)}
REQUEST_ID_ATTRIBUTE = "http.request.id"
"""The span attribute that carries the request id (the ``X-Request-ID`` of the response)."""


class ObservabilityMiddleware:
    """Request id, log context, Prometheus metrics, an OpenTelemetry span and an access log.

    Pure ASGI, one pass per request. Install it with `install_observability` so that it wraps
    the whole app, Starlette's error middleware included: then unhandled 500s are measured and
    carry the request id too. Each part can be switched off.

    A request gets one server span: when one was opened outside this middleware (FastAPI's own
    with its operation spans, OTel contrib's), the middleware adds the request id to it and
    opens none of its own.

    Args:
        app: The ASGI app to wrap.
        request_id: Give every response an ``X-Request-ID``; keep a well-formed incoming one.
        request_id_header: The header name.
        reject_invalid_request_id: Answer 400 to a malformed incoming id instead of replacing it.
        metrics: Record ``http_server_*`` metrics into this `Metrics`.
        tracer_provider: Open one server span per request in this provider (W3C
            ``traceparent`` honoured), or in OpenTelemetry's global provider once one is
            configured (``"global"``).
        access_log: Write one access-log line per request.
        log_context: Make ``request_id`` (and the current span's ``trace_id`` and ``span_id``)
            part of every record logged during the request, background tasks included (see
            `add_log_context`).
        skip_paths: Paths that get a request id and nothing else (matched against the full
            path, ``root_path`` included).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        request_id: bool = True,
        request_id_header: str = DEFAULT_REQUEST_ID_HEADER,
        reject_invalid_request_id: bool = False,
        metrics: Metrics | None = None,
        tracer_provider: TracerChoice = None,
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
        self._tracers = Tracers(tracer_provider, "fastapi_pro", __version__)
        self.access_log = access_log
        self.log_context = log_context
        self.skip_paths = frozenset(skip_paths)
        self._routes = RouteTemplates()
        self._exemplars = metrics is not None and metrics.multiprocess_dir is None
        # An outer span (FastAPI's, contrib's) is enriched whenever anything is measured.
        self._measures = bool(metrics or access_log or log_context or tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, carrier = self._read_headers(scope["headers"])
        request_id = None
        if self.request_id:
            request_id = self._request_id(incoming)
            if request_id is None:
                await self._reject(scope, receive, send)
                return
            scope.setdefault("state", {})["request_id"] = request_id
        if not self._measures or app_path(scope) in self.skip_paths:
            await self.app(scope, receive, self._stamping(send, request_id))
            return
        await _Request(self, scope, request_id).run(receive, send, carrier)

    def _read_headers(
        self, headers: Iterable[tuple[bytes, bytes]]
    ) -> tuple[bytes | None, _Carrier | None]:
        """The incoming request id and W3C trace context, in one pass over the headers."""
        incoming: bytes | None = None
        carrier: _Carrier | None = None
        for name, value in headers:
            if name == self._header:
                incoming = value
            elif name in _TRACE_HEADERS:
                carrier = carrier or {}
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return incoming, carrier

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
        problem = Problem(
            400,
            "invalid_request_id",
            "Bad Request",
            detail=f"The {self.header_name} header must be 1 to 128 characters of "
            "letters, digits and . _ : @ + = / -",
            request_id=request_id,
        )
        renderer = renderer_of(scope.get("app"))  # the app's error shape
        response = renderer.response(problem, {self.header_name: request_id})
        await response(scope, receive, send)

    def _stamping(self, send: Send, request_id: str | None) -> Send:
        if request_id is None:
            return send
        header = (self._header, request_id.encode("ascii"))

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_header(message.get("headers", ()), header)
            await send(message)

        return stamped


class _Request:
    """The measurement of one request, finished once, when its last body byte is sent."""

    __slots__ = (
        "finished",
        "label_method",
        "method",
        "middleware",
        "outer",
        "request_bytes",
        "request_id",
        "response_bytes",
        "root_path",
        "scope",
        "span",
        "start_ns",
        "status",
    )

    def __init__(self, middleware: ObservabilityMiddleware, scope: Scope, request_id: str | None):
        self.middleware = middleware
        self.scope = scope
        self.request_id = request_id
        self.method: str = scope["method"]
        self.label_method = normalize_method(self.method)
        self.root_path: str = scope.get("root_path", "")
        self.status = 0
        self.request_bytes = 0
        self.response_bytes = 0
        self.finished = False
        self.span: Any = None
        self.outer: Any = None
        self.start_ns = 0

    async def run(self, receive: Receive, send: Send, traceparent: _Carrier | None) -> None:
        m = self.middleware
        self.start_ns = time.time_ns()
        otel_token = self._open_span(traceparent)
        id_token = _REQUEST_ID.set(self.request_id) if m.log_context else None
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
            if id_token is not None:
                _REQUEST_ID.reset(id_token)
            if otel_token is not None:
                otel_context.detach(otel_token)

    def _open_span(self, carrier: _Carrier | None) -> Token[Context] | None:
        """Open this request's server span, or adopt one opened outside (FastAPI's, contrib's)."""
        self.outer = current_server_span()
        if self.outer is not None:
            if self.request_id is not None:
                self.outer.set_attribute(REQUEST_ID_ATTRIBUTE, self.request_id)
            return None
        tracer = self.middleware._tracers.get()
        if tracer is None:
            return None
        parent = _PROPAGATOR.extract(carrier) if carrier is not None else None
        self.span = tracer.start_span(
            _span_name(self.label_method, self.method),
            context=parent,
            kind=SpanKind.SERVER,
            start_time=self.start_ns,
            attributes=self._span_attributes(),
        )
        return otel_context.attach(trace.set_span_in_context(self.span, parent))

    def _span_attributes(self) -> dict[str, Any]:
        # The semantic conventions' required attributes, the client address and the request
        # id; each attribute costs about a microsecond in the SDK, so the rest are left out.
        scope = self.scope
        attributes: dict[str, Any] = {
            "http.request.method": self.label_method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if self.label_method != self.method:
            attributes["http.request.method_original"] = self.method
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        if self.request_id is not None:
            attributes[REQUEST_ID_ATTRIBUTE] = self.request_id
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
                    message["headers"] = _with_header(message.get("headers", ()), header)
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
        span_context = (self.span or self.outer or INVALID_SPAN).get_span_context()
        if m.metrics is not None:
            m.metrics.http.finished(
                (self.label_method, route, _STATUS.get(status) or str(status)),
                duration,
                self.request_bytes,
                self.response_bytes,
                _exemplar_trace_id(span_context) if m._exemplars else None,
            )
        if self.span is not None:
            self._end_span(route, status, error, end_ns)
        if m.access_log:
            self._write_access_line(route, status, duration, span_context)

    def _write_access_line(
        self, route: str, status: int, duration: float, span_context: SpanContext
    ) -> None:
        client = self.scope.get("client")
        context = {"request_id": self.request_id or ""}
        if span_context.is_valid:
            context["trace_id"] = format(span_context.trace_id, "032x")
            context["span_id"] = format(span_context.span_id, "016x")
        write_access_log(
            {
                "method": self.method,
                "route": route,
                "path": self.scope["path"],
                "status": status,
                "duration_ms": int(duration * 1_000_000) / 1000,
                "client": f"{client[0]}:{client[1]}" if client else None,
            },
            context,
        )

    def _end_span(self, route: str, status: int, error: BaseException | None, end_ns: int) -> None:
        span = self.span
        attributes: dict[str, Any] = {}
        if route != UNMATCHED:
            span.update_name(f"{_span_name(self.label_method, self.method)} {route}")
            attributes["http.route"] = route
        if status and status != _DISCONNECTED:
            attributes["http.response.status_code"] = status
        if error is not None:
            span.record_exception(error)
            attributes["error.type"] = type(error).__qualname__
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        elif status >= 500:  # noqa: PLR2004 - 5xx are server errors
            attributes["error.type"] = str(status)
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attributes)
        span.end(end_time=end_ns)


def _span_name(label_method: str, method: str) -> str:
    """Span names never carry a client-chosen method (the conventions' "HTTP" for those)."""
    return "HTTP" if label_method == "_OTHER" else method


def _with_header(
    headers: Iterable[tuple[bytes, bytes]], header: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]] | Iterable[tuple[bytes, bytes]]:
    for name, _ in headers:
        if name == header[0]:  # an error handler stamped it already
            return headers
    return [*headers, header]


def _exemplar_trace_id(span_context: SpanContext) -> str | None:
    """The trace id an exemplar links to: only a sampled trace can be found in the backend."""
    if span_context.is_valid and span_context.trace_flags.sampled:
        return format(span_context.trace_id, "032x")
    return None
