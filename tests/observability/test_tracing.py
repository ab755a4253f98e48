from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fastapi_pro.db import Database
from fastapi_pro.observability import configure_tracing, instrument_database
from tests.observability.conftest import Spans
from tests.servers import free_port


def test_configure_tracing_sets_resource_and_sampler() -> None:
    provider = configure_tracing(service_name="orders", service_version="1.2.3", sample_ratio=0.25)

    assert provider.resource.attributes["service.name"] == "orders"
    assert provider.resource.attributes["service.version"] == "1.2.3"
    assert "0.25" in provider.sampler.get_description()


def test_a_zero_ratio_samples_nothing_new() -> None:
    provider = configure_tracing(service_name="orders", sample_ratio=0)
    span = provider.get_tracer("t").start_span("x")

    assert not span.is_recording()


def test_bad_ratio_and_missing_extra_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        configure_tracing(service_name="x", sample_ratio=2)
    monkeypatch.setitem(
        __import__("sys").modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None
    )
    with pytest.raises(ImportError, match=r"fastapi-pro\[otlp\]"):
        configure_tracing(service_name="x", exporter="otlp")


async def test_sql_statements_become_child_spans_without_parameters(
    spans: Spans, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    instrument_database(db, spans.provider)
    tracer = spans.provider.get_tracer("test")
    with tracer.start_as_current_span("GET /orders"):
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT :secret"), {"secret": "hunter2"})
            with pytest.raises(Exception, match="no such table"):
                await connection.execute(text("SELECT * FROM missing"))
    await db.dispose()

    parent = next(s for s in spans.all() if s.name == "GET /orders")
    queries = [s for s in spans.all() if s.name == "SELECT"]
    assert len(queries) >= 2
    assert all(s.parent is not None and s.parent.span_id == parent.context.span_id for s in queries)
    assert all("hunter2" not in str(s.attributes) for s in queries)
    assert queries[0].attributes is not None
    assert queries[0].attributes["db.system.name"] == "sqlite"
    assert any(s.status.status_code.name == "ERROR" for s in queries)


async def test_otlp_exporter_sends_spans_to_a_collector_over_http() -> None:
    import asyncio  # noqa: PLC0415 - this test runs a collector stand-in

    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.requests import Request  # noqa: PLC0415
    from starlette.responses import Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    received: list[tuple[str, bytes]] = []

    async def traces(request: Request) -> Response:
        received.append((request.headers["content-type"], await request.body()))
        return Response(status_code=200)

    collector = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(collector, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        provider = configure_tracing(
            service_name="orders",
            exporter="otlp",
            otlp_endpoint=f"http://127.0.0.1:{port}/v1/traces",
        )
        with provider.get_tracer("test").start_as_current_span("GET /orders/{order_id}"):
            pass
        await asyncio.to_thread(provider.force_flush)
        await asyncio.to_thread(provider.shutdown)
    finally:
        server.should_exit = True
        await serving

    [(content_type, body)] = received
    assert content_type == "application/x-protobuf"
    assert b"GET /orders/{order_id}" in body
    assert b"orders" in body
