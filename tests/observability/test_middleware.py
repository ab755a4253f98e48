from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.observability import (
    GLOBAL,
    UNMATCHED,
    Metrics,
    access_log_through_loguru,
    install_observability,
    tracer_provider_of,
)
from tests.observability.conftest import LogLines, Spans, client_for, samples, value

DURATION = "http_server_request_duration_seconds"


def make_app(metrics: Metrics, spans: Spans, **options: object) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    orders = APIRouter(prefix="/orders")

    @orders.get("/{order_id}")
    async def read_order(order_id: int) -> dict[str, int]:
        logging.getLogger("app.orders").info("reading order %s", order_id)
        return {"id": order_id}

    v1 = APIRouter(prefix="/v1")
    v1.include_router(orders)
    app.include_router(v1, prefix="/api")

    sub = FastAPI()

    @sub.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.mount("/shop", sub)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    @app.get("/slow-background")
    async def slow_background(tasks: BackgroundTasks) -> dict[str, bool]:
        async def later() -> None:
            logger.info("background work")
            await asyncio.sleep(0.3)

        tasks.add_task(later)
        return {"queued": True}

    @app.get("/stream/{size}")
    async def stream(size: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(size):
                await asyncio.sleep(0.001)
                yield b"x" * 100

        return StreamingResponse(chunks())

    @app.post("/echo")
    async def echo(body: dict[str, str]) -> dict[str, str]:
        return body

    @app.get("/metrics")
    async def scrape() -> str:
        return "scraped"

    install_observability(app, metrics=metrics, tracer_provider=spans.provider, **options)
    return app


async def test_request_id_header_is_on_an_unhandled_500(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        response = await client.get("/crash")

    assert response.status_code == 500
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert (
        value(metrics, f"{DURATION}_count", http_route="/crash", http_response_status_code="500")
        == 1
    )


async def test_request_id_header_is_on_a_500_even_without_the_error_handlers(
    metrics: Metrics, spans: Spans
) -> None:
    app = FastAPI()

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError

    install_observability(app, metrics=metrics)
    async with client_for(app) as client:
        response = await client.get("/crash")

    assert response.status_code == 500
    assert len(response.headers["x-request-id"]) == 32


async def test_a_route_under_include_router_prefixes_gets_its_full_template(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/api/v1/orders/42")

    route = "/api/v1/orders/{order_id}"
    assert value(metrics, f"{DURATION}_count", http_route=route, http_request_method="GET") == 1
    span = spans.one()
    assert span.name == f"GET {route}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == route


async def test_a_route_of_a_mounted_app_gets_the_mount_prefix(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/shop/items/7")

    assert value(metrics, f"{DURATION}_count", http_route="/shop/items/{item_id}") == 1


async def test_plain_starlette_routes_such_as_the_docs_get_their_template(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200

    assert value(metrics, f"{DURATION}_count", http_route="/docs") == 1
    assert value(metrics, f"{DURATION}_count", http_route="/openapi.json") == 1
    assert value(metrics, f"{DURATION}_count", http_route=UNMATCHED) == 0
    assert {s.name for s in spans.all()} == {"GET /docs", "GET /openapi.json"}


async def test_random_unknown_paths_share_one_route_label(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        for _ in range(1000):
            await client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}")

    routes = {s.labels["http_route"] for s in samples(metrics, f"{DURATION}_count")}
    assert routes == {UNMATCHED}
    assert value(metrics, f"{DURATION}_count", http_route=UNMATCHED) == 1000
    assert {s.name for s in spans.all()} == {"GET"}


async def test_background_tasks_do_not_count_as_request_latency(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/slow-background")

    span = spans.one()
    assert span.end_time is not None
    assert span.start_time is not None
    span_seconds = (span.end_time - span.start_time) / 1e9
    histogram_seconds = value(metrics, f"{DURATION}_sum", http_route="/slow-background")
    assert span_seconds == pytest.approx(histogram_seconds, abs=1e-6)
    assert histogram_seconds < 0.1


async def test_two_concurrent_streams_report_their_own_sizes(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        short, long = await asyncio.gather(client.get("/stream/3"), client.get("/stream/50"))

    assert (len(short.content), len(long.content)) == (300, 5000)
    sizes = sorted(
        s.value
        for s in samples(
            metrics, "http_server_response_body_size_bytes_sum", http_route="/stream/{size}"
        )
    )
    assert (
        value(metrics, "http_server_response_body_size_bytes_sum", http_route="/stream/{size}")
        == 5300
    )
    assert len(sizes) == 1
    counts = samples(
        metrics,
        "http_server_response_body_size_bytes_bucket",
        http_route="/stream/{size}",
        le="1000.0",
    )
    assert [c.value for c in counts] == [1]  # the short stream alone fits under 1,000 bytes


async def test_request_body_sizes_are_counted_from_the_bytes_received(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.post(
            "/echo", content=b'{"a": "bb"}', headers={"content-type": "application/json"}
        )

    assert value(metrics, "http_server_request_body_size_bytes_sum", http_route="/echo") == 11


async def test_a_raising_handler_marks_its_span_as_an_error_with_the_exception(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/crash")

    span = spans.one()
    assert span.kind == SpanKind.SERVER
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 500
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"


async def test_4xx_leaves_the_span_status_unset(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/api/v1/orders/not-a-number")

    assert spans.one().status.status_code == StatusCode.UNSET


async def test_one_span_per_request_and_no_child_spans_per_message(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/stream/20")

    assert len(spans.all()) == 1


async def test_an_incoming_traceparent_is_continued_and_a_bad_one_ignored(
    metrics: Metrics, spans: Spans
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    good = f"00-{trace_id}-00f067aa0ba902b7-01"
    async with client_for(make_app(metrics, spans)) as client:
        await client.get("/api/v1/orders/1", headers={"traceparent": good})
        await client.get("/api/v1/orders/1", headers={"traceparent": "00-zzzz-not-valid-01"})
        await client.get(
            "/api/v1/orders/1", headers={"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}
        )

    continued, fresh, all_zero = spans.all()
    assert format(continued.context.trace_id, "032x") == trace_id
    assert continued.parent is not None
    assert format(continued.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert fresh.parent is None
    assert all_zero.parent is None


async def test_a_malformed_request_id_is_replaced(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        kept = await client.get("/api/v1/orders/1", headers={"X-Request-ID": "abc-123"})
        replaced = await client.get("/api/v1/orders/1", headers={"X-Request-ID": "bad id!" * 30})

    assert kept.headers["x-request-id"] == "abc-123"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_a_malformed_request_id_is_rejected_when_configured(
    metrics: Metrics, spans: Spans
) -> None:
    app = make_app(metrics, spans, reject_invalid_request_id=True)
    async with client_for(app) as client:
        rejected = await client.get("/api/v1/orders/1", headers={"X-Request-ID": "<script>"})
        accepted = await client.get("/api/v1/orders/1", headers={"X-Request-ID": "ok-1"})

    assert rejected.status_code == 400
    assert rejected.headers["content-type"] == "application/problem+json"
    assert rejected.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "The X-Request-ID header must be 1 to 128 characters of letters, digits "
        "and . _ : @ + = / -",
        "code": "invalid_request_id",
        "request_id": rejected.headers["x-request-id"],
    }
    assert list(rejected.json()) == ["type", "title", "status", "detail", "code", "request_id"]
    assert "<script>" not in rejected.text
    assert accepted.status_code == 200


async def test_skipped_paths_get_a_request_id_and_no_measurement(
    metrics: Metrics, spans: Spans, logs: LogLines
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        response = await client.get("/metrics")

    assert "x-request-id" in response.headers
    assert samples(metrics, f"{DURATION}_count") == []
    assert spans.all() == []
    assert logs.access() == []


async def test_logs_during_the_request_and_its_background_tasks_carry_its_ids(
    metrics: Metrics, spans: Spans, logs: LogLines
) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        first = await client.get("/api/v1/orders/5")
        await client.get("/slow-background")
    logger.info("outside any request")

    lines = logs.all()
    [stdlib] = [line for line in lines if line["logger"] == "app.orders"]
    assert stdlib["message"] == "reading order 5"
    assert stdlib["request_id"] == first.headers["x-request-id"]
    assert stdlib["trace_id"] == format(spans.all()[0].context.trace_id, "032x")
    [background] = [line for line in lines if line["message"] == "background work"]
    assert background["request_id"] is not None
    assert background["request_id"] != stdlib["request_id"]
    [outside] = [line for line in lines if line["message"] == "outside any request"]
    assert outside["request_id"] is None


async def test_one_access_line_per_request(metrics: Metrics, spans: Spans, logs: LogLines) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        response = await client.get("/api/v1/orders/9?secret=1")

    [line] = logs.access()
    fields = line["extra"]
    assert fields["method"] == "GET"
    assert fields["route"] == "/api/v1/orders/{order_id}"
    assert fields["path"] == "/api/v1/orders/9"
    assert fields["status"] == 200
    assert fields["duration_ms"] > 0
    assert fields["client"] == "127.0.0.1:123"
    assert line["request_id"] == response.headers["x-request-id"]
    assert "secret" not in str(line)


async def test_a_client_that_disconnects_mid_stream_is_still_measured(
    metrics: Metrics, spans: Spans
) -> None:
    app = make_app(metrics, spans)
    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream/100",
        "raw_path": b"/stream/100",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "http_version": "1.1",
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "asgi": {"version": "3.0"},
    }
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, object]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        if len(sent) == 5:
            raise OSError("connection reset by peer")

    with pytest.raises(OSError, match="reset"):
        await app(scope, receive, send)  # type: ignore[arg-type]

    assert value(metrics, f"{DURATION}_count", http_route="/stream/{size}") == 1
    assert value(metrics, "http_server_active_requests") == 0
    assert spans.one().status.status_code == StatusCode.ERROR


async def test_parts_can_be_switched_off(metrics: Metrics, spans: Spans, logs: LogLines) -> None:
    app = make_app(metrics, spans, request_id=False, access_log=False, log_context=False)
    async with client_for(app) as client:
        response = await client.get("/api/v1/orders/1")

    assert "x-request-id" not in response.headers
    assert logs.access() == []
    assert {line["request_id"] for line in logs.all()} == {None}
    assert len(spans.all()) == 1


async def test_active_requests_rise_during_a_request_and_fall_after(
    metrics: Metrics, spans: Spans
) -> None:
    app = make_app(metrics, spans)
    seen: list[float] = []

    @app.get("/watch")
    async def watch() -> None:
        seen.append(value(metrics, "http_server_active_requests", http_request_method="GET"))

    async with client_for(app) as client:
        await client.get("/watch")

    assert seen == [1]
    assert value(metrics, "http_server_active_requests") == 0


async def test_unknown_methods_share_one_label(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        for method in ("FOO", "BAR", "PROPFIND"):
            await client.request(method, "/api/v1/orders/1")

    methods = {s.labels["http_request_method"] for s in samples(metrics, f"{DURATION}_count")}
    assert methods == {"_OTHER"}


async def test_two_apps_never_share_samples(spans: Spans) -> None:
    first, second = Metrics(), Metrics()
    async with client_for(make_app(first, spans)) as client:
        await client.get("/api/v1/orders/1")

    assert value(first, f"{DURATION}_count") == 1
    assert value(second, f"{DURATION}_count") == 0


async def test_websocket_and_lifespan_scopes_pass_through(metrics: Metrics, spans: Spans) -> None:
    started = time.perf_counter()
    app = make_app(metrics, spans)
    messages: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "lifespan.startup"} if not messages else {"type": "lifespan.shutdown"}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)  # type: ignore[arg-type]

    assert messages[0]["type"] == "lifespan.startup.complete"
    assert time.perf_counter() - started < 5


async def test_access_lines_escape_whatever_the_path_holds(
    metrics: Metrics, spans: Spans, logs: LogLines
) -> None:
    path = '/nowhere/"quoted"\\back\u00e9\u4e2d\n'
    async with client_for(make_app(metrics, spans)) as client:
        await client.get(path.replace("\n", "%0A"))

    [line] = logs.access()
    assert line["extra"]["path"] == path
    assert line["extra"]["route"] == UNMATCHED
    assert line["message"].startswith("GET /nowhere/")


async def test_access_lines_in_development_format(metrics: Metrics, spans: Spans) -> None:
    import io  # noqa: PLC0415 - this test sets up its own text sink

    from fastapi_pro.observability import configure_logging  # noqa: PLC0415

    stream = io.StringIO()
    configure_logging(sink=stream, intercept_stdlib=False)
    try:
        async with client_for(make_app(metrics, spans)) as client:
            response = await client.get("/api/v1/orders/3")
    finally:
        logger.remove()

    [line] = [text for text in stream.getvalue().splitlines() if "fastapi_pro.access" in text]
    assert "INFO     fastapi_pro.access GET /api/v1/orders/3 200" in line
    assert f"request_id={response.headers['x-request-id']}" in line


async def test_access_lines_go_through_loguru_before_logging_is_configured(
    metrics: Metrics, spans: Spans
) -> None:
    records: list[str] = []
    handler = logger.add(lambda message: records.append(message.record["message"]))
    try:
        with access_log_through_loguru():  # as if configure_logging had not run
            async with client_for(make_app(metrics, spans)) as client:
                await client.get("/api/v1/orders/3")
    finally:
        logger.remove(handler)

    assert any(record.startswith("GET /api/v1/orders/3 200") for record in records)


async def test_installing_twice_or_too_late_is_a_clear_error(
    metrics: Metrics, spans: Spans
) -> None:
    app = make_app(metrics, spans)
    with pytest.raises(RuntimeError, match="already called"):
        install_observability(app)

    late = FastAPI()
    async with client_for(late) as client:
        await client.get("/")
    with pytest.raises(RuntimeError, match="before the app serves"):
        install_observability(late)


def test_a_misspelt_option_is_refused_at_the_call() -> None:
    app = FastAPI()
    with pytest.raises(TypeError, match="acces_log"):
        install_observability(app, acces_log=False)  # type: ignore[call-arg]

    install_observability(app, access_log=False)  # the refused call installed nothing


def test_the_app_s_metrics_and_tracer_provider_are_found_again(
    metrics: Metrics, spans: Spans
) -> None:
    app = FastAPI()
    install_observability(app, metrics=metrics, tracer_provider=spans.provider)

    assert Metrics.of(app) is metrics
    assert tracer_provider_of(app) is spans.provider


def test_an_app_without_metrics_or_tracing_says_how_to_get_them() -> None:
    app = FastAPI()
    install_observability(app)

    with pytest.raises(RuntimeError, match=r"give install_observability\(\) a Metrics"):
        Metrics.of(app)
    with pytest.raises(RuntimeError, match=r"give install_observability\(\) a tracer_provider"):
        tracer_provider_of(app)
    with pytest.raises(RuntimeError, match="records no metrics"):
        Metrics.of(FastAPI())


def test_an_app_tracing_with_the_global_provider_finds_it_once_it_is_set(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = FastAPI()
    install_observability(app, tracer_provider=GLOBAL)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    with pytest.raises(RuntimeError, match="Tracing is off"):
        tracer_provider_of(app)

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", spans.provider)
    assert tracer_provider_of(app) is spans.provider


async def test_a_mount_with_parameters_keeps_them_out_of_the_route_label(
    metrics: Metrics, spans: Spans
) -> None:
    app = FastAPI()
    tenant_app = FastAPI()

    @tenant_app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.mount("/tenants/{tenant}", tenant_app)
    install_observability(app, metrics=metrics, tracer_provider=spans.provider)
    async with client_for(app) as client:
        for tenant in ("acme", "globex", "initech"):
            assert (await client.get(f"/tenants/{tenant}/items/1")).status_code == 200

    routes = {s.labels["http_route"] for s in samples(metrics, f"{DURATION}_count")}
    assert routes == {"/tenants/{tenant}/items/{item_id}"}
    assert {s.name for s in spans.all()} == {"GET /tenants/{tenant}/items/{item_id}"}


async def test_unknown_methods_never_name_a_span(metrics: Metrics, spans: Spans) -> None:
    async with client_for(make_app(metrics, spans)) as client:
        await client.request("EVILMETHOD", "/api/v1/orders/1")

    [span] = spans.all()
    assert span.name == "HTTP /api/v1/orders/{order_id}"
    assert span.attributes is not None
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "EVILMETHOD"


async def test_a_path_cannot_forge_lines_in_the_text_access_log(
    metrics: Metrics, spans: Spans
) -> None:
    import io  # noqa: PLC0415 - this test sets up its own text sink

    from fastapi_pro.observability import configure_logging  # noqa: PLC0415

    stream = io.StringIO()
    configure_logging(sink=stream, intercept_stdlib=False)
    try:
        async with client_for(make_app(metrics, spans)) as client:
            await client.get("/a%0A12:00:00.000 INFO     fastapi_pro.access GET /admin 200 1ms")
    finally:
        logger.remove()

    access = [line for line in stream.getvalue().splitlines() if "fastapi_pro.access" in line]
    assert len(access) == 1
    assert "\\x0a" in access[0]


async def test_a_mounted_app_that_routes_no_further_gets_one_template(
    metrics: Metrics, spans: Spans, tmp_path: Path
) -> None:
    (tmp_path / "app.js").write_text("1;")
    (tmp_path / "app.css").write_text("a {}")
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=tmp_path))
    install_observability(app, metrics=metrics, tracer_provider=spans.provider)
    async with client_for(app) as client:
        assert (await client.get("/static/app.js")).status_code == 200
        assert (await client.get("/static/app.css")).status_code == 200
        assert (await client.get("/static/missing.js")).status_code == 404

    routes = {s.labels["http_route"] for s in samples(metrics, f"{DURATION}_count")}
    assert routes == {"/static/{path}"}
    assert {s.name for s in spans.all()} == {"GET /static/{path}"}
