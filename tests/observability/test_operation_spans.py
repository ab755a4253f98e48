"""With FastAPI's operation spans kept, the app still reports the provider its spans land in.

FastAPI's native telemetry then opens the server span (the middleware opens none), in the
provider `install_observability` or `setup()` chose: `tracer_provider_of` names that provider,
and an exporter added to it receives the server span with ``fastapi.endpoint`` under it.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from fastapi_pro import Settings, setup
from fastapi_pro.observability import (
    REQUEST_ID_ATTRIBUTE,
    install_observability,
    tracer_provider_of,
)
from tests.observability.conftest import Spans, client_for

ROUTE = "/orders/{order_id}"


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get(ROUTE)
    async def read_order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    return app


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenTelemetry lets a process set its global provider once; tests set and reset it.
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)


def exporter_on(provider: trace.TracerProvider) -> InMemorySpanExporter:
    """An in-memory exporter receiving what ``provider`` finishes from now on."""
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def get_order(app: FastAPI) -> httpx.Response:
    async with client_for(app) as client:
        response = await client.get("/orders/7")
    assert response.status_code == 200
    return response


def assert_endpoint_under_server_span(spans: list[ReadableSpan], request_id: str) -> None:
    """One server span, FastAPI's, with the request id and ``fastapi.endpoint`` below it."""
    [server] = [span for span in spans if span.kind is SpanKind.SERVER]
    assert server.name == f"GET {ROUTE}"
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == "fastapi"
    assert (server.attributes or {})[REQUEST_ID_ATTRIBUTE] == request_id
    [endpoint] = [span for span in spans if span.name == "fastapi.endpoint"]
    assert is_below(endpoint, server, spans), "fastapi.endpoint is not under the server span"


def is_below(span: ReadableSpan, ancestor: ReadableSpan, spans: Sequence[ReadableSpan]) -> bool:
    """Whether ``span`` descends from ``ancestor``, following parents through ``spans``."""
    parents = {s.context.span_id: s.parent for s in spans if s.context is not None}
    assert span.context is not None
    assert ancestor.context is not None
    parent = parents.get(span.context.span_id)
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        parent = parents.get(parent.span_id)
    return False


async def traced_request(app: FastAPI, provider: trace.TracerProvider) -> None:
    """One request to ``app``, its spans exported from ``provider``: FastAPI's, as expected."""
    exporter = exporter_on(provider)
    response = await get_order(app)
    finished = list(exporter.get_finished_spans())
    assert_endpoint_under_server_span(finished, response.headers["x-request-id"])


async def test_tracer_provider_of_names_the_given_provider_with_operation_spans(
    spans: Spans, no_global_provider: None
) -> None:
    app = make_app()
    install_observability(app, tracer_provider=spans.provider, operation_spans=True)

    provider = tracer_provider_of(app)

    assert provider is spans.provider
    await traced_request(app, provider)


async def test_tracer_provider_of_finds_the_global_provider_with_operation_spans(
    spans: Spans, no_global_provider: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    install_observability(app, operation_spans=True)  # FastAPI traces with the global provider
    with pytest.raises(RuntimeError, match="Tracing is off"):
        tracer_provider_of(app)

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", spans.provider)
    provider = tracer_provider_of(app)

    assert provider is spans.provider
    await traced_request(app, provider)


async def test_tracer_provider_of_names_setups_provider_with_operation_spans(
    spans: Spans, no_global_provider: None
) -> None:
    app = make_app()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        observability={"operation_spans": True},  # type: ignore[arg-type]
    )
    setup(
        app,
        settings,
        database=False,
        auth=False,
        health=False,
        logging=False,
        tracing=spans.provider,
    )

    provider = tracer_provider_of(app)

    assert provider is spans.provider
    await traced_request(app, provider)


def test_with_operation_spans_and_nothing_tracing_tracing_is_still_off(
    no_global_provider: None,
) -> None:
    app = FastAPI(telemetry={"tracing": False})  # type: ignore[arg-type]
    install_observability(app, operation_spans=True)

    with pytest.raises(RuntimeError, match="Tracing is off"):
        tracer_provider_of(app)
