from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from loguru import logger

from fastapi_pro.observability import (
    access_log_through_loguru,
    configure_logging,
    write_access_log,
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    logger.remove()
    logging.basicConfig(handlers=[], force=True)
    logging.getLogger("uvicorn.access").disabled = False


def test_json_lines_have_the_documented_members(stream: io.StringIO) -> None:
    configure_logging(json_lines=True, sink=stream)

    with logger.contextualize(request_id="r-1", trace_id="t" * 32, span_id="s" * 16):
        logger.bind(order_id=7).info("order paid")

    line = json.loads(stream.getvalue())
    assert set(line) == {
        "timestamp",
        "level",
        "message",
        "logger",
        "request_id",
        "trace_id",
        "span_id",
        "extra",
    }
    assert line["message"] == "order paid"
    assert line["level"] == "INFO"
    assert line["request_id"] == "r-1"
    assert line["extra"] == {"order_id": 7}
    assert line["timestamp"].endswith("+00:00")


def test_stdlib_loggers_are_routed_with_their_names(stream: io.StringIO) -> None:
    configure_logging(json_lines=True, sink=stream)

    logging.getLogger("sqlalchemy.engine").warning("slow query %s", "SELECT 1")
    logging.getLogger("uvicorn.error").info("server started")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("sqlalchemy.engine", "slow query SELECT 1"),
        ("uvicorn.error", "server started"),
    ]


def test_uvicorn_access_lines_are_off_unless_asked_for(stream: io.StringIO) -> None:
    configure_logging(json_lines=True, sink=stream)
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
    assert stream.getvalue() == ""

    configure_logging(json_lines=True, sink=stream, uvicorn_access_log=True)
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
    assert "GET /" in stream.getvalue()


def test_exceptions_are_one_json_line_with_the_traceback(stream: io.StringIO) -> None:
    configure_logging(json_lines=True, sink=stream)

    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("app").exception("failed")

    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "failed"
    assert "ValueError: bad value" in line["exception"]


def test_development_format_is_readable_and_shows_the_request_id(stream: io.StringIO) -> None:
    configure_logging(sink=stream, level="DEBUG")

    with logger.contextualize(request_id="r-9"):
        logger.debug("hello")

    output = stream.getvalue()
    assert "hello" in output
    assert "request_id=r-9" in output
    assert not output.startswith("{")


def test_level_filters_records(stream: io.StringIO) -> None:
    configure_logging(json_lines=True, sink=stream, level="WARNING")

    logger.info("quiet")
    logger.warning("loud")

    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["loud"]


def test_add_log_context_serves_a_loguru_set_up_of_the_apps_own() -> None:
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    from fastapi_pro.observability import add_log_context  # noqa: PLC0415
    from fastapi_pro.observability._logging import REQUEST_ID_CONTEXT  # noqa: PLC0415

    records: list[dict[str, object]] = []
    logger.remove()
    logger.configure(patcher=add_log_context)
    logger.add(lambda message: records.append(dict(message.record["extra"])))
    tracer = TracerProvider().get_tracer("test")
    token = REQUEST_ID_CONTEXT.set("r-7")
    try:
        with tracer.start_as_current_span("work") as span:
            logger.info("inside")
            logger.bind(request_id="explicit").info("bound")
        logger.info("after the span")
    finally:
        REQUEST_ID_CONTEXT.reset(token)
        logger.remove()
        logger.configure(patcher=lambda record: None)
    logger.info("outside")

    ids = span.get_span_context()
    assert records[0] == {
        "request_id": "r-7",
        "trace_id": format(ids.trace_id, "032x"),
        "span_id": format(ids.span_id, "016x"),
    }
    assert records[1]["request_id"] == "explicit"
    assert records[2] == {"request_id": "r-7"}


def test_access_lines_with_fields_of_another_shape_keep_the_json_members(
    stream: io.StringIO,
) -> None:
    configure_logging(json_lines=True, sink=stream)
    write_access_log({"method": "GET", "path": '/a"b', "status": 200, "duration_ms": 1.5})
    write_access_log(
        {
            "method": "GET",
            "route": "/a",
            "path": "/a\n\u00e9",
            "status": 404,
            "duration_ms": 0.25,
            "client": None,
        },
        {"request_id": "r-1", "trace_id": None},
    )

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == 'GET /a"b 200 1.5ms'
    assert first["extra"] == {"method": "GET", "path": '/a"b', "status": 200, "duration_ms": 1.5}
    assert first["request_id"] is None
    assert second["message"] == "GET /a\n\u00e9 404 0.25ms"
    assert second["extra"]["client"] is None
    assert second["request_id"] == "r-1"
    assert set(second) == {
        "timestamp", "level", "message", "logger", "request_id", "trace_id", "span_id", "extra"
    }  # fmt: skip


def test_access_lines_reach_loguru_handlers_only_inside_access_log_through_loguru(
    stream: io.StringIO,
) -> None:
    configure_logging(json_lines=True, sink=stream)
    seen: list[str] = []
    logger.add(lambda message: seen.append(message.record["message"]), format="{message}")
    fields = {"method": "GET", "path": "/a", "status": 200, "duration_ms": 1.0}

    write_access_log(fields)
    with access_log_through_loguru():
        write_access_log({**fields, "path": "/inside"})
    write_access_log({**fields, "path": "/after"})

    assert seen == ["GET /inside 200 1.0ms"]
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == ["GET /a 200 1.0ms", "GET /inside 200 1.0ms", "GET /after 200 1.0ms"]


def test_a_function_sink_gets_loguru_s_messages_and_the_access_lines() -> None:
    seen: list[str] = []
    try:
        configure_logging(json_lines=True, sink=lambda message: seen.append(str(message)))
        logger.info("hello")
        write_access_log({"method": "GET", "path": "/a", "status": 200, "duration_ms": 1.0})
    finally:
        logger.remove()
        logging.basicConfig(handlers=[], force=True)

    assert seen == ["hello\n", "GET /a 200 1.0ms\n"]


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_both_formats_name_the_stdlib_logger_or_else_the_calling_module(
    stream: io.StringIO, json_lines: bool
) -> None:
    configure_logging(json_lines=json_lines, sink=stream)

    logging.getLogger("fastapi_pro.app").warning("from the standard library")
    logger.warning("from loguru")

    first, second = stream.getvalue().splitlines()
    if json_lines:
        assert json.loads(first)["logger"] == "fastapi_pro.app"
        assert json.loads(second)["logger"] == __name__
    else:
        assert first.split()[2:4] == ["fastapi_pro.app", "from"]
        assert second.split()[2:4] == [__name__, "from"]
        assert "tests.observability.test_logging from the" not in first
