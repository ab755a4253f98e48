"""`configure_logging`: loguru for the app, stdlib loggers routed into it, JSON in production."""

from __future__ import annotations

import inspect
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from loguru import logger
from opentelemetry import trace

CONTEXT_KEYS = ("request_id", "trace_id", "span_id")
"""Request context that every record logged during a request carries."""

_DEV_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <8}</level> "
    "<cyan>{extra[_logger]}</cyan> <level>{message}</level>"
    "{extra[_context]}"
)


class InterceptHandler(logging.Handler):
    """A stdlib logging handler that hands every record to loguru, keeping its logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        """Forward ``record`` to loguru at the same level, with the original caller."""
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        extra = {key: getattr(record, key) for key in CONTEXT_KEYS if hasattr(record, key)}
        logger.bind(logger_name=record.name, **extra).opt(
            depth=depth, exception=record.exc_info
        ).log(level, record.getMessage())


def _logger_name(record: Any) -> str:
    """The ``logger`` of a record, the same in text and JSON.

    The standard-library logger's name for records that came through `logging` (not the module
    that called it), and the calling module for loguru's own calls.
    """
    name: str = record["extra"].get("logger_name") or record["name"]
    return name


def _json_line(record: Any) -> str:
    extra = dict(record["extra"])
    extra.pop("logger_name", None)
    extra.pop("_logger", None)
    document: dict[str, Any] = {
        "timestamp": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "message": record["message"],
        "logger": _logger_name(record),
    }
    for key in CONTEXT_KEYS:
        document[key] = extra.pop(key, None)
    extra.pop("_context", None)
    if extra:
        document["extra"] = extra
    if record["exception"] is not None:
        kind, value, tb = record["exception"]
        document["exception"] = "".join(traceback.format_exception(kind, value, tb))
    return json.dumps(document, default=str, ensure_ascii=False)


def json_sink(stream: TextIO) -> Callable[[Any], None]:
    """A loguru sink writing one JSON object per line to ``stream``.

    Members: ``timestamp`` (UTC, ISO 8601), ``level``, ``message``, ``logger``, ``request_id``,
    ``trace_id``, ``span_id``, ``extra`` (other bound values) and ``exception`` (the traceback).
    """

    def write(message: Any) -> None:
        stream.write(_json_line(message.record) + "\n")

    return write


REQUEST_ID_CONTEXT: ContextVar[str | None] = ContextVar("fastapi_pro_request_id", default=None)
"""The id of the request being served; set by the observability middleware."""


def add_log_context(record: Any) -> None:
    """A loguru patcher adding ``request_id``, ``trace_id`` and ``span_id`` to a record.

    The request id is that of the request being served (background tasks included); the trace
    and span ids are those of whichever span is current where the record is logged, so a line
    logged inside a SQL or operation span names that span. `configure_logging` installs it;
    with a loguru set-up of your own, ``logger.configure(patcher=add_log_context)``. Values
    bound explicitly (``logger.bind(request_id=...)``) are kept.
    """
    extra = record["extra"]
    request_id = REQUEST_ID_CONTEXT.get()
    if request_id is not None:
        extra.setdefault("request_id", request_id)
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        extra.setdefault("trace_id", format(span_context.trace_id, "032x"))
        extra.setdefault("span_id", format(span_context.span_id, "016x"))


def _add_context(record: Any) -> None:
    add_log_context(record)
    extra = record["extra"]
    extra["_logger"] = _logger_name(record)
    parts = [f"{key}={extra[key]}" for key in CONTEXT_KEYS if extra.get(key)]
    extra["_context"] = (" [" + " ".join(parts) + "]") if parts else ""


def configure_logging(
    *,
    level: str | int = "INFO",
    json_lines: bool = False,
    sink: TextIO | Callable[[Any], None] | None = None,
    intercept_stdlib: bool = True,
    uvicorn_access_log: bool = False,
) -> None:
    """Set up loguru for the process: readable lines in development, JSON lines in production.

    Replaces loguru's handlers and patcher (logging is process-wide by nature). Records logged
    during a request carry its ``request_id`` and the current span's ``trace_id`` and
    ``span_id`` (see `add_log_context`).

    Args:
        level: The minimum level.
        json_lines: One JSON object per line (see `json_sink`) instead of coloured text.
        sink: Where to write; standard error by default.
        intercept_stdlib: Route the standard library's loggers (uvicorn, sqlalchemy, the app's
            own) into loguru.
        uvicorn_access_log: Keep uvicorn's access log; off by default because the middleware
            writes one access line per request already.
    """
    global _writer  # noqa: PLW0603 - logging is configured process-wide, like loguru itself
    sink = sink if sink is not None else sys.stderr
    stream = None if callable(sink) else sink  # a function sink gets loguru's messages only
    logger.remove()
    numeric = level if isinstance(level, int) else logger.level(level).no
    _writer = (
        None if stream is None else _AccessWriter(stream, json_lines=json_lines, level=numeric)
    )
    if json_lines:
        logger.configure(patcher=add_log_context)
        target = sink if stream is None else json_sink(stream)
        logger.add(target, level=level, format="{message}", backtrace=False, diagnose=False)
    else:
        logger.configure(patcher=_add_context)
        logger.add(sink, level=level, format=_DEV_FORMAT, backtrace=False, diagnose=False)
    if intercept_stdlib:
        _intercept_stdlib()
    logging.getLogger("uvicorn.access").disabled = not uvicorn_access_log


def _intercept_stdlib() -> None:
    """Route the standard library's root logger, uvicorn's and FastAPI's into loguru."""
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True


_access = logger.bind(logger_name="fastapi_pro.access")
_INFO = 20


_NUMBERS = frozenset({int, float})
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


_KEYS: dict[str, str] = {}
_MILLIS = tuple(f".{millis:03d}+00:00" for millis in range(1000))
_REQUEST_FIELDS = ["method", "route", "path", "status", "duration_ms", "client"]


def _key(name: str) -> str:
    escaped = _KEYS.get(name)
    if escaped is None:
        escaped = _KEYS[name] = encode_basestring_ascii(name)
    return escaped


def _string(value: Any) -> str:
    return "null" if value is None else encode_basestring_ascii(str(value))


class _Clock:
    """UTC timestamps with milliseconds; the part up to the second is formatted once a second."""

    __slots__ = ("prefix", "second")

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def now(self) -> tuple[str, float]:
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self.prefix + _MILLIS[int((now - second) * 1000)], now


class _AccessWriter:
    """Writes access lines straight to the configured stream, in the sink's own format.

    An access line is written for every request, and loguru's record machinery (caller frame,
    process and thread lookups) would cost more than the rest of the request's observability;
    the line has exactly the members `json_sink` writes, built for the access line's fixed
    shape (every string escaped by the ``json`` module's encoder).
    """

    def __init__(self, stream: Any, *, json_lines: bool, level: int) -> None:
        self.stream = stream
        self.json_lines = json_lines
        self.enabled = level <= _INFO
        self.lock = threading.Lock()
        self.clock = _Clock()

    def write(self, fields: dict[str, Any], context: dict[str, Any]) -> None:
        if not self.enabled:
            return
        timestamp, now = self.clock.now()
        if self.json_lines:
            line = _json_access_line(timestamp, fields, context)
        else:  # a decoded path may hold line breaks: never let it forge lines
            text = _message(fields).translate(_CONTROL)
            ids = " ".join(f"{key}={context[key]}" for key in CONTEXT_KEYS if context.get(key))
            clock = time.strftime("%H:%M:%S", time.localtime(now)) + timestamp[19:23]
            line = f"{clock} INFO     fastapi_pro.access {text}"
            line += f" [{ids}]" if ids else ""
        with self.lock:
            self.stream.write(line + "\n")


def _message(fields: dict[str, Any]) -> str:
    return f"{fields['method']} {fields['path']} {fields['status']} {fields['duration_ms']}ms"


def _json_access_line(timestamp: str, fields: dict[str, Any], context: dict[str, Any]) -> str:
    """The access line as `json_sink` would write it; the middleware's fields in one f-string.

    Escaping is per character, so the message is assembled from the escaped method and path.
    """
    start = f'{{"timestamp": "{timestamp}", "level": "INFO", "message": '
    ids = (
        f', "logger": "fastapi_pro.access", "request_id": {_string(context.get("request_id"))}, '
        f'"trace_id": {_string(context.get("trace_id"))}, '
        f'"span_id": {_string(context.get("span_id"))}, "extra": {{'
    )
    if list(fields) != _REQUEST_FIELDS:  # another caller's fields: the general form
        extra = ", ".join(
            f"{_key(key)}: {value if type(value) in _NUMBERS else _string(value)}"
            for key, value in fields.items()
        )
        return f"{start}{_string(_message(fields))}{ids}{extra}}}}}"
    method, path = _string(fields["method"]), _string(fields["path"])
    status, duration = fields["status"], repr(fields["duration_ms"])
    return (
        f'{start}{method[:-1]} {path[1:-1]} {status} {duration}ms"{ids}'
        f'"method": {method}, "route": {_string(fields["route"])}, "path": {path}, '
        f'"status": {status}, "duration_ms": {duration}, "client": {_string(fields["client"])}}}}}'
    )


_writer: _AccessWriter | None = None


def write_access_log(fields: dict[str, Any], context: dict[str, Any] | None = None) -> None:
    """Write the access-log line of one request (logger ``fastapi_pro.access``, INFO).

    ``context`` carries the request's ``request_id``, ``trace_id`` and ``span_id``.
    """
    context = context or {}
    if _writer is not None:
        _writer.write(fields, context)
        return
    text = f"{fields['method']} {fields['path']} {fields['status']} {fields['duration_ms']}ms"
    _access.bind(**fields, **context).info(text)


@contextmanager
def access_log_through_loguru() -> Generator[None]:
    """Inside the block, write access lines through loguru's handlers, not straight to the sink.

    `configure_logging` writes access lines to its stream directly, for speed; a handler added
    to loguru (a test capturing records, say) sees them only inside this block.
    """
    global _writer  # noqa: PLW0603 - the process-wide access writer, put back on exit
    saved, _writer = _writer, None
    try:
        yield
    finally:
        _writer = saved
