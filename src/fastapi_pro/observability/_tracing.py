"""`configure_tracing`: an OpenTelemetry `TracerProvider`, and spans for SQL statements."""

from __future__ import annotations

from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy import event

from fastapi_pro.__about__ import __version__

ExporterName = Literal["none", "console", "otlp"]


def _exporter(exporter: ExporterName | SpanExporter, endpoint: str | None) -> SpanExporter | None:
    if not isinstance(exporter, str):
        return exporter
    if exporter == "console":
        return ConsoleSpanExporter()
    if exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )
        except ImportError as error:
            msg = 'The OTLP exporter needs the otlp extra: pip install "fastapi-pro[otlp]"'
            raise ImportError(msg) from error
        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    return None


def configure_tracing(
    *,
    service_name: str,
    service_version: str | None = None,
    sample_ratio: float = 1.0,
    exporter: ExporterName | SpanExporter = "none",
    otlp_endpoint: str | None = None,
    set_global: bool = False,
) -> TracerProvider:
    """Build a `TracerProvider` for the app (given to `install_observability`).

    Args:
        service_name: ``service.name`` of the resource.
        service_version: ``service.version`` of the resource.
        sample_ratio: Share of new traces sampled; requests that arrive with a sampled parent
            follow their parent's decision.
        exporter: ``"none"``, ``"console"``, ``"otlp"`` (the ``otlp`` extra, HTTP/protobuf), or
            any `SpanExporter`; spans are exported in batches, off the request path.
        otlp_endpoint: The OTLP endpoint (default: the exporter's own default).
        set_global: Also make it OpenTelemetry's global provider (for other instrumentation).
    """
    if not 0.0 <= sample_ratio <= 1.0:
        msg = f"sample_ratio must be between 0 and 1, not {sample_ratio}."
        raise ValueError(msg)
    attributes = {"service.name": service_name, "telemetry.sdk.name": "opentelemetry"}
    if service_version is not None:
        attributes["service.version"] = service_version
    provider = TracerProvider(
        resource=Resource.create(attributes), sampler=ParentBased(TraceIdRatioBased(sample_ratio))
    )
    span_exporter = _exporter(exporter, otlp_endpoint)
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider


def instrument_database(database: Any, provider: trace.TracerProvider) -> None:
    """Make a client span for every SQL statement ``database`` runs, child of the request's span.

    Spans are named by the statement's operation (``SELECT``, ``INSERT``, ...) and carry
    ``db.system.name`` and ``db.query.text`` (with placeholders: parameter values are never
    recorded).
    """
    engine = database.engine.sync_engine
    spans = _StatementSpans(provider.get_tracer("fastapi_pro.db", __version__), engine.dialect.name)
    event.listen(engine, "before_cursor_execute", spans.before)
    event.listen(engine, "after_cursor_execute", spans.after)
    event.listen(engine, "handle_error", spans.failed)


_SPAN = "_fastapi_pro_span"  # where a statement's span waits, on its execution context


class _StatementSpans:
    """The client spans of one engine's statements, each kept on its execution context."""

    __slots__ = ("system", "tracer")

    def __init__(self, tracer: trace.Tracer, system: str) -> None:
        self.tracer = tracer
        self.system = system

    def before(self, *args: Any) -> None:  # SQLAlchemy passes conn, cursor, statement, ...
        statement: str = args[2]
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = self.tracer.start_span(
            operation,
            kind=trace.SpanKind.CLIENT,
            attributes={
                "db.system.name": self.system,
                "db.query.text": statement,
                "db.operation.name": operation,
            },
        )
        setattr(args[4], _SPAN, span)

    def after(self, *args: Any) -> None:  # conn, cursor, statement, parameters, context, ...
        span = _take_span(args[4])
        if span is not None:
            span.end()

    def failed(self, exception_context: Any) -> None:
        span = _take_span(exception_context.execution_context)
        if span is not None:
            error = type(exception_context.original_exception).__name__
            span.set_status(trace.StatusCode.ERROR, error)
            span.set_attribute("error.type", error)
            span.end()


def _take_span(context: Any) -> trace.Span | None:
    """The statement's span, taken off its context so that it is ended once, whatever runs next."""
    span: trace.Span | None = getattr(context, _SPAN, None)
    if span is not None:
        setattr(context, _SPAN, None)
    return span
