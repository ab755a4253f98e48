"""Capturing the app's spans, metric samples and log records for one test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fastapi_pro.observability import _logging
from fastapi_pro.observability._metrics import Metrics
from fastapi_pro.observability._middleware import METRICS_STATE_KEY, TRACER_PROVIDER_STATE_KEY
from fastapi_pro.observability._spans import GLOBAL
from fastapi_pro.testing._capture import CapturedLogs, CapturedMetrics, CapturedSpans

_EXPORTER = "_fastapi_pro_test_exporter"


@contextmanager
def capture_spans(app: FastAPI) -> Iterator[CapturedSpans]:
    """Collect the spans ``app``'s tracer provider finishes inside the block."""
    provider = getattr(app.state, TRACER_PROVIDER_STATE_KEY, None)
    if provider == GLOBAL:  # the app traces with OpenTelemetry's global provider
        provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        pytest.fail(
            "Tracing is off for this app: give install_observability() a tracer_provider "
            "(or enable observability.tracing_enabled for setup()) to capture spans.",
            pytrace=False,
        )
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
    metrics = getattr(app.state, METRICS_STATE_KEY, None)
    if not isinstance(metrics, Metrics):
        pytest.fail(
            "This app records no metrics: give install_observability() a Metrics (or keep "
            "observability.metrics_enabled on for setup()).",
            pytrace=False,
        )
    return CapturedMetrics(metrics.registry)


@contextmanager
def capture_logs() -> Iterator[CapturedLogs]:
    """Collect every log record written through loguru inside the block."""
    logs = CapturedLogs()
    handler = logger.add(logs.sink, level=0, format="{message}", catch=False)
    # Access lines normally bypass loguru for speed; route them through it while capturing.
    writer = _logging._writer
    _logging._writer = None
    try:
        yield logs
    finally:
        _logging._writer = writer
        logger.remove(handler)
