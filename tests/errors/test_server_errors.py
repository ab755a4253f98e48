from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from fastapi_pro.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from tests.conftest import ClientFactory
from tests.servers import free_port

SECRET = "postgresql://admin:hunter2@10.0.0.7/prod"


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError(f"could not connect to {SECRET}")

    @app.get("/bad-response")
    async def bad_response() -> dict[str, int]:
        return {"card_number": "4111 1111 1111 1111"}  # type: ignore[dict-item]

    return app


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unhandled_exception_is_a_500_problem_without_its_text(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.get("/crash")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "code": "internal_server_error",
        "request_id": response.headers["x-request-id"],
    }


async def test_500_carries_the_request_id_in_header_body_and_log(
    app: FastAPI, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(app) as client:
        response = await client.get("/crash")

    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["request_id"] == request_id
    [record] = error_records(caplog)
    assert record.request_id == request_id  # type: ignore[attr-defined]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_a_well_formed_incoming_request_id_is_kept(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.get("/crash", headers={"X-Request-ID": "req-42.a:b"})

    assert response.headers["x-request-id"] == "req-42.a:b"
    assert response.json()["request_id"] == "req-42.a:b"


@pytest.mark.parametrize(
    "incoming", [b"x" * 129, b"bad id with spaces", b"<script>", "\u00e9-non-ascii".encode(), b""]
)
async def test_a_malformed_incoming_request_id_is_replaced(
    app: FastAPI, client_for: ClientFactory, incoming: bytes
) -> None:
    async with client_for(app) as client:
        response = await client.get("/crash", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"].encode() != incoming
    assert len(response.headers["x-request-id"]) == 32


async def test_response_validation_error_is_a_500_that_leaks_no_data(
    app: FastAPI, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(app) as client:
        response = await client.get("/bad-response")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_server_error"
    assert "4111" not in response.text
    assert "bad_response" not in response.text
    [record] = error_records(caplog)
    assert "4111" not in record.getMessage()
    assert "card_number" in record.getMessage()


async def test_custom_request_id_header_is_used(client_for: ClientFactory) -> None:
    app = FastAPI()
    install_error_handlers(app, request_id_header="X-Correlation-ID")
    async with client_for(app) as client:
        response = await client.get("/missing", headers={"X-Correlation-ID": "abc"})

    assert response.headers["x-correlation-id"] == "abc"
    assert "x-request-id" not in response.headers


async def test_under_uvicorn_the_traceback_is_logged_once(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/crash")
    finally:
        server.should_exit = True
        await serving

    assert response.status_code == 500
    assert response.headers["x-request-id"]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert tracebacks[0].name == "fastapi_pro.errors"
