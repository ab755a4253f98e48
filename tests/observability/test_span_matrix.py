"""One server span per request in every tracing configuration, through `setup()`.

The dimensions: OpenTelemetry's global tracer provider set or not, fastapi-pro's own tracing on
or off, FastAPI's native telemetry options (``tracing``, ``tracer_provider``), FastAPI's
operation spans kept or not, and OTel contrib's FastAPI instrumentation. Whatever the
combination, a request yields exactly one server span when anything traces (none when nothing
does), carrying the route template, the status and the request id; logs carry the ids of the
span current where they are written; HTTP metrics are recorded once.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from loguru import logger
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from fastapi_pro import Settings, setup
from fastapi_pro.observability import REQUEST_ID_ATTRIBUTE, configure_logging
from tests.observability.conftest import Spans, client_for

ROUTE = "/orders/{order_id}"


@dataclass
class World:
    """Every provider a span could land in, and the log lines written."""

    global_: Spans = field(default_factory=Spans)
    own: Spans = field(default_factory=Spans)
    fastapi: Spans = field(default_factory=Spans)
    log: io.StringIO = field(default_factory=io.StringIO)

    def spans(self) -> list[ReadableSpan]:
        return self.global_.all() + self.own.all() + self.fastapi.all()

    def server_spans(self) -> list[ReadableSpan]:
        return [span for span in self.spans() if span.kind is SpanKind.SERVER]

    def lines(self, message: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.log.getvalue().splitlines() if line]
        return [line for line in lines if line["message"] == message]


@pytest.fixture
def world() -> Iterator[World]:
    world = World()
    configure_logging(json_lines=True, sink=world.log)
    yield world
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    logger.remove()
    logging.basicConfig(handlers=[], force=True)


def set_global(world: World) -> None:
    # OpenTelemetry lets a process set its global provider once; tests set and reset it.
    trace._TRACER_PROVIDER = world.global_.provider  # type: ignore[attr-defined]


def make_app(
    world: World,
    *,
    own: bool,
    operation_spans: bool = False,
    telemetry: dict[str, Any] | None = None,
    contrib: bool = False,
) -> FastAPI:
    app = FastAPI(telemetry=telemetry)  # type: ignore[arg-type]
    if contrib:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

        FastAPIInstrumentor.instrument_app(app, tracer_provider=world.global_.provider)

    @app.get(ROUTE)
    async def read_order(order_id: int) -> dict[str, int]:
        logger.info("reading the order")
        return {"id": order_id}

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        observability={"operation_spans": operation_spans},  # type: ignore[arg-type]
    )
    setup(
        app,
        settings,
        database=False,
        auth=False,
        health=False,
        logging=False,
        tracing=world.own.provider if own else False,
    )
    return app


async def get_order(app: FastAPI) -> httpx.Response:
    async with client_for(app) as client:
        response = await client.get("/orders/7")
    assert response.status_code == 200
    return response


# (global provider set, fastapi-pro tracing, FastAPI telemetry options, operation spans)
# -> the recorder that holds the one server span, and whose instrumentation made it
PRO, NATIVE = "fastapi_pro", "fastapi"
OFF, NO_OPERATIONS = {"tracing": False}, {"operation_spans": False}
CASES = {
    "nothing traces": (False, False, None, False, None, None),
    "fastapi-pro tracing only": (False, True, None, False, "own", PRO),
    "global provider only": (True, False, None, False, "global_", PRO),
    "global provider and fastapi-pro tracing": (True, True, None, False, "own", PRO),
    "FastAPI tracing off, global set": (True, False, OFF, False, None, None),
    "FastAPI tracing off, fastapi-pro on": (True, True, OFF, False, "own", PRO),
    "FastAPI's own provider": (False, False, "fastapi", False, "fastapi", PRO),
    "FastAPI's own provider, global set": (True, False, "fastapi", False, "fastapi", PRO),
    "fastapi-pro wins over FastAPI's provider": (True, True, "fastapi", False, "own", PRO),
    "FastAPI operation spans off": (True, False, NO_OPERATIONS, False, "global_", PRO),
    "operation spans, global provider": (True, False, None, True, "global_", NATIVE),
    "operation spans, fastapi-pro tracing": (False, True, None, True, "own", NATIVE),
    "operation spans, global and fastapi-pro": (True, True, None, True, "own", NATIVE),
    "operation spans, nothing traces": (False, False, None, True, None, None),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_one_server_span_per_request(world: World, case: str) -> None:
    global_set, own, telemetry, operation_spans, holder, scope = CASES[case]
    if global_set:
        set_global(world)
    if telemetry == "fastapi":
        telemetry = {"tracer_provider": world.fastapi.provider}
    app = make_app(world, own=own, operation_spans=operation_spans, telemetry=telemetry)

    response = await get_order(app)
    await get_order(app)

    if holder is None:
        assert world.spans() == []
        [line, _] = world.lines("reading the order")
        assert line["trace_id"] is None
        return
    servers = getattr(world, holder).all()
    assert [span.kind for span in world.server_spans()] == [SpanKind.SERVER] * 2
    first = next(span for span in servers if span.kind is SpanKind.SERVER)
    assert first.instrumentation_scope is not None
    assert first.instrumentation_scope.name == scope
    assert first.name == f"GET {ROUTE}"
    attributes = first.attributes or {}
    assert attributes["http.route"] == ROUTE
    assert attributes["http.response.status_code"] == 200
    assert attributes[REQUEST_ID_ATTRIBUTE] == response.headers["x-request-id"]
    assert_logs_follow_the_current_span(world, first)
    operations = {span.name for span in world.spans() if span.kind is SpanKind.INTERNAL}
    expected = {"fastapi.dependencies", "fastapi.endpoint", "fastapi.serialization"}
    assert operations == (expected if operation_spans else set())


def assert_logs_follow_the_current_span(world: World, server: ReadableSpan) -> None:
    """The endpoint's line names the span current where it was logged: the endpoint's
    operation span when FastAPI keeps them, else the server span."""
    assert server.context is not None
    line = world.lines("reading the order")[0]
    assert line["request_id"] is not None
    assert line["trace_id"] == format(server.context.trace_id, "032x")
    same_trace = [
        span for span in world.spans() if span.context.trace_id == server.context.trace_id
    ]
    current = [span for span in same_trace if span.name in {"fastapi.endpoint", server.name}]
    endpoint = [span for span in current if span.name == "fastapi.endpoint"]
    expected = endpoint[0] if endpoint else server
    assert expected.context is not None
    assert line["span_id"] == format(expected.context.span_id, "016x")


@pytest.mark.parametrize("own", [False, True], ids=["global provider", "fastapi-pro tracing"])
async def test_contrib_instrumentation_keeps_its_span_and_gets_the_request_id(
    world: World, own: bool
) -> None:
    set_global(world)
    app = make_app(world, own=own, contrib=True)

    response = await get_order(app)

    [server] = world.server_spans()
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == "opentelemetry.instrumentation.fastapi"
    attributes = server.attributes or {}
    assert attributes[REQUEST_ID_ATTRIBUTE] == response.headers["x-request-id"]
    assert_logs_follow_the_current_span(world, server)


@pytest.fixture
def meter_reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    metrics_internal._METER_PROVIDER = MeterProvider(metric_readers=[reader])  # type: ignore[attr-defined]
    yield reader
    metrics_internal._METER_PROVIDER = None  # type: ignore[attr-defined]


def otel_request_durations(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    count = 0
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "http.server.request.duration":
                    count += sum(point.count for point in metric.data.data_points)  # type: ignore[union-attr]
    return count


@pytest.mark.parametrize("prometheus", [True, False], ids=["prometheus", "no prometheus"])
async def test_http_metrics_are_recorded_once(
    meter_reader: InMemoryMetricReader, prometheus: bool
) -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        observability={"metrics_enabled": prometheus},  # type: ignore[arg-type]
    )
    components = setup(app, settings, database=False, auth=False, health=False, logging=False)
    async with client_for(app) as client:
        await client.get("/ping")

    assert otel_metrics.get_meter_provider() is metrics_internal._METER_PROVIDER  # type: ignore[attr-defined]
    if prometheus:
        assert components.metrics is not None
        text = components.metrics.render()[0].decode()
        assert 'http_server_request_duration_seconds_count{http_request_method="GET"' in text
        assert otel_request_durations(meter_reader) == 0
    else:
        assert components.metrics is None
        assert otel_request_durations(meter_reader) == 1


async def test_a_line_logged_in_a_span_of_the_apps_own_names_that_span(world: World) -> None:
    app = make_app(world, own=True)
    tracer = world.own.provider.get_tracer("orders")

    @app.get("/pay")
    async def pay() -> str:
        with tracer.start_as_current_span("charge card"):
            logger.info("charging")
        logger.info("charged")
        return "paid"

    async with client_for(app) as client:
        response = await client.get("/pay")

    spans = {span.name: span for span in world.own.all()}
    charge, server = spans["charge card"], spans["GET /pay"]
    assert charge.context is not None
    assert server.context is not None
    [inside] = world.lines("charging")
    [after] = world.lines("charged")
    assert inside["span_id"] == format(charge.context.span_id, "016x")
    assert after["span_id"] == format(server.context.span_id, "016x")
    assert inside["request_id"] == after["request_id"] == response.headers["x-request-id"]


async def test_with_no_provider_configured_fastapis_telemetry_is_off_entirely() -> None:
    """FastAPI looks for providers at every request unless all its signals are off."""
    app = FastAPI()
    settings = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    setup(app, settings, database=False, auth=False, health=False, logging=False)

    assert app._native_telemetry.enabled() is False
    assert (app._telemetry["tracing"], app._telemetry["metrics"], app._telemetry["logs"]) == (
        False,
        False,
        False,
    )


async def test_a_global_provider_set_after_the_first_request_is_followed_within_a_second(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi_pro.observability import _spans  # noqa: PLC0415

    clock = [1000.0]
    monkeypatch.setattr(_spans.time, "monotonic", lambda: clock[0])
    app = make_app(world, own=False)
    await get_order(app)
    set_global(world)

    await get_order(app)
    clock[0] += 0.5
    await get_order(app)
    assert world.spans() == []  # not looked for again yet
    clock[0] += 0.6
    await get_order(app)
    [server] = world.global_.all()
    assert server.name == f"GET {ROUTE}"
