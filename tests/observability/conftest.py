from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from fastapi_pro.observability import Metrics, configure_logging


class Spans:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def one(self) -> ReadableSpan:
        [span] = self.all()
        return span


@pytest.fixture
def spans() -> Spans:
    return Spans()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def samples(metrics: Metrics, name: str, **labels: str) -> list[Any]:
    """Parse the exposition back and return the samples of ``name`` matching ``labels``."""
    text = metrics.render()[0].decode()
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                found.append(sample)
    return found


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return sum(sample.value for sample in samples(metrics, name, **labels))


class LogLines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger"] == "fastapi_pro.access"]


@pytest.fixture
def logs() -> Iterator[LogLines]:
    stream = io.StringIO()
    configure_logging(json_lines=True, sink=stream, level="DEBUG")
    yield LogLines(stream)
    logger.remove()
    logging.basicConfig(handlers=[], force=True)
    logging.getLogger("uvicorn.access").disabled = False


@asynccontextmanager
async def client_for(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


PROMETHEUS_ENV = "FASTAPI_PRO_TEST_PROMETHEUS"


def _prometheus_tool(name: str) -> str:
    """``name`` (``prometheus`` or ``promtool``), beside ``$FASTAPI_PRO_TEST_PROMETHEUS``.

    Without the variable the tool is looked up on ``PATH`` and the test is skipped when it is
    missing; with it (as CI sets it), a missing tool fails the test.
    """
    configured = os.environ.get(PROMETHEUS_ENV)
    server = shutil.which(configured or "prometheus")
    found = shutil.which(name, path=str(Path(server).parent)) if server else None
    if found is None:
        message = (
            f"no {name!r} beside {configured or 'prometheus'!r} on PATH "
            "(Debian: apt-get install prometheus)"
        )
        if configured:
            pytest.fail(f"{message}; {PROMETHEUS_ENV} is set, so tests that need it must not skip.")
        pytest.skip(f"{message}; set {PROMETHEUS_ENV} to make this a failure.")
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus's ``promtool``."""
    return _prometheus_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_server() -> str:
    """The ``prometheus`` server binary."""
    return _prometheus_tool("prometheus")
