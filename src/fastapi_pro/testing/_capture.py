"""What a test observes: SQL statements, spans, metric samples, log records, problem bodies."""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry
    from sqlalchemy.engine import Engine

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Transaction control the isolation itself issues; not the code under test's statements.
_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO\s+SAVEPOINT)\b",
    re.IGNORECASE,
)


class QueryCounter:
    """Counts the SQL statements an engine runs (transaction control excluded).

    Attributes:
        statements: Every counted statement's SQL, in order.
    """

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, *args: Any) -> None:
        statement: str = args[2]
        if not _CONTROL.match(statement):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        """How many statements ran so far."""
        return len(self.statements)

    def reset(self) -> None:
        """Forget the statements counted so far."""
        self.statements.clear()

    def close(self) -> None:
        """Stop counting."""
        if event.contains(self._engine, "before_cursor_execute", self._record):
            event.remove(self._engine, "before_cursor_execute", self._record)

    @contextmanager
    def assert_max(self, limit: int) -> Generator[QueryCounter]:
        """Fail the test when the block runs more than ``limit`` statements (N+1 guard)."""
        start = len(self.statements)
        yield self
        ran = self.statements[start:]
        if len(ran) > limit:
            listing = "\n".join(f"  {i}. {sql}" for i, sql in enumerate(ran, 1))
            pytest.fail(
                f"Expected at most {limit} SQL statements, {len(ran)} ran:\n{listing}",
                pytrace=False,
            )


class CapturedSpans:
    """Spans finished by the app's tracer provider during the test."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    @property
    def spans(self) -> list[ReadableSpan]:
        """Every finished span, oldest first."""
        return list(self._exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        """The finished spans called ``name`` (for example ``"GET /orders/{order_id}"``)."""
        return [span for span in self.spans if span.name == name]

    def clear(self) -> None:
        """Forget the spans finished so far."""
        self._exporter.clear()


def _sample_key(name: str, labels: Mapping[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


class CapturedMetrics:
    """Metric samples of the app's registry, as changes since the test started.

    Example:
        ```python
        assert captured_metrics.value(
            "http_server_request_duration_seconds_count", http_route="/orders"
        ) == 1
        ```
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._baseline = self._read()

    def _read(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            _sample_key(sample.name, sample.labels): sample.value
            for family in self._registry.collect()
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """How much the samples called ``name`` whose labels include ``labels`` changed."""
        wanted = set(labels.items())
        current = self._read()
        return sum(
            value - self._baseline.get(key, 0.0)
            for key, value in current.items()
            if key[0] == name and wanted.issubset(key[1])
        )

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The current value of every sample called ``name``, by its sorted labels."""
        return {labels: value for (sample, labels), value in self._read().items() if sample == name}


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log record: its level name, message and bound fields (``request_id``, ...)."""

    level: str
    message: str
    logger: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    exception: str | None = None


class CapturedLogs:
    """Log records written through loguru (and intercepted standard logging) during the test."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def sink(self, message: Any) -> None:
        """A loguru sink that stores the record."""
        record = message.record
        exception = record["exception"]
        self.records.append(
            LogRecord(
                level=record["level"].name,
                message=record["message"],
                logger=record["extra"].get("logger", record["name"] or ""),
                extra=dict(record["extra"]),
                exception=None if exception is None else repr(exception.value),
            )
        )

    @property
    def messages(self) -> list[str]:
        """Every record's message, oldest first."""
        return [record.message for record in self.records]

    def at(self, level: str) -> list[LogRecord]:
        """The records at ``level`` (``"ERROR"``, ...)."""
        return [record for record in self.records if record.level == level]


def assert_problem(
    response: Any, status: int, code: str | None = None, **members: Any
) -> dict[str, Any]:
    """Assert that ``response`` is an RFC 9457 problem with ``status`` (and ``code``, members).

    Returns the parsed body so the test can check more.

    Example:
        ```python
        problem = assert_problem(response, 409, code="invalid_transition")
        assert "shipped" in problem["detail"]
        ```
    """
    __tracebackhide__ = True
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    body_text = response.text[:500]
    if response.status_code != status:
        pytest.fail(f"Expected status {status}, got {response.status_code}: {body_text}")
    if media_type != PROBLEM_MEDIA_TYPE:
        pytest.fail(f"Expected {PROBLEM_MEDIA_TYPE}, got {media_type or 'no content type'}")
    body: dict[str, Any] = response.json()
    if body.get("status") != status:
        pytest.fail(f"The body's status is {body.get('status')!r}, not {status}: {body}")
    if code is not None and body.get("code") != code:
        pytest.fail(f"Expected code {code!r}, got {body.get('code')!r}: {body}")
    for name, expected in members.items():
        if body.get(name) != expected:
            pytest.fail(f"Expected {name}={expected!r}, got {body.get(name)!r}: {body}")
    return body
