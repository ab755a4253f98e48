"""`captured_spans` on an app that keeps FastAPI's operation spans (its server span too)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from opentelemetry.trace import SpanKind

from fastapi_pro.db import Base
from fastapi_pro.observability import REQUEST_ID_ATTRIBUTE
from fastapi_pro.testing import CapturedSpans, run_app
from tests.observability.test_operation_spans import is_below
from tests.testing.sample_app import create_app


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fastapi_app(fastapi_database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(fastapi_database_url, operation_spans=True)
    async with run_app(app, database_url=fastapi_database_url, metadata=Base.metadata):
        yield app


async def test_captured_spans_hold_fastapis_server_span_and_its_operation_spans(
    fastapi_client: httpx.AsyncClient, captured_spans: CapturedSpans
) -> None:
    response = await fastapi_client.post("/rows/ada")
    assert response.status_code == 201

    [server] = captured_spans.named("POST /rows/{owner}")
    assert server.kind is SpanKind.SERVER
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == "fastapi"
    assert server.attributes is not None
    assert server.attributes[REQUEST_ID_ATTRIBUTE] == response.headers["x-request-id"]
    [endpoint] = captured_spans.named("fastapi.endpoint")
    assert is_below(endpoint, server, captured_spans.spans), "fastapi.endpoint is not under it"
