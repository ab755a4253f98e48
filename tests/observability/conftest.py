from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
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
