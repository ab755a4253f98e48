"""Capturing the app's spans, metric samples and log records for one test."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from loguru import logger
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fastapi_pro.observability import (
    Metrics,
    access_log_through_loguru,
    add_log_context,
    tracer_provider_of,
)
from fastapi_pro.testing._capture import CapturedLogs, CapturedMetrics, CapturedSpans

_EXPORTER = "_fastapi_pro_test_exporter"
_NOT_SDK = (
    "The app traces with a tracer provider that is not OpenTelemetry SDK's TracerProvider: "
    "its spans cannot be captured."
)


@contextmanager
def capture_spans(app: FastAPI) -> Generator[CapturedSpans]:
    """Collect the spans ``app``'s tracer provider finishes inside the block."""
    try:
        provider = tracer_provider_of(app)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    if not isinstance(provider, TracerProvider):
        pytest.fail(_NOT_SDK, pytrace=False)
    # A provider cannot drop a span processor, so each gets one in-memory exporter, emptied
    # for every test.
    exporter = getattr(provider, _EXPORTER, None)
    if exporter is None:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        setattr(provider, _EXPORTER, exporter)
    exporter.clear()
    try:
        yield CapturedSpans(exporter)
    finally:
        exporter.clear()


def capture_metrics(app: FastAPI) -> CapturedMetrics:
    """Read ``app``'s metric samples relative to now."""
    try:
        metrics = Metrics.of(app)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    return CapturedMetrics(metrics.registry)


@contextmanager
def capture_logs() -> Generator[CapturedLogs]:
    """Collect every log record written through loguru inside the block."""
    logs = CapturedLogs()
    # The request and trace ids are added here too, so they are captured whether or not the app
    # configured logging (which installs the same patcher process-wide).
    handler = logger.add(
        logs.sink, level=0, format="{message}", catch=False, filter=_with_log_context
    )
    try:
        # Access lines normally bypass loguru for speed; route them through it while capturing.
        with access_log_through_loguru():
            yield logs
    finally:
        logger.remove(handler)


def _with_log_context(record: Any) -> bool:
    add_log_context(record)
    return True
