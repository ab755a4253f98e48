"""Fixtures of what the app reports: its spans, metric samples and log records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fastapi_pro.testing._capture import CapturedLogs, CapturedMetrics, CapturedSpans


@pytest.fixture
def captured_spans(fastapi_app: FastAPI) -> Iterator[CapturedSpans]:
    """Spans the app's tracer provider finishes during the test (tracing must be on)."""
    from fastapi_pro.testing._observability import capture_spans  # noqa: PLC0415

    with capture_spans(fastapi_app) as spans:
        yield spans


@pytest.fixture
def captured_metrics(fastapi_app: FastAPI) -> CapturedMetrics:
    """The app's metric samples, as changes since the test started."""
    from fastapi_pro.testing._observability import capture_metrics  # noqa: PLC0415

    return capture_metrics(fastapi_app)


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Log records (access lines included) written during the test."""
    from fastapi_pro.testing._observability import capture_logs  # noqa: PLC0415

    with capture_logs() as logs:
        yield logs
