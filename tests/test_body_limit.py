"""`setup` limits request bodies: a 413 problem past ``max_body_size``, per route if need be."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Body, FastAPI
from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from fastapi_pro import Settings, setup
from fastapi_pro.observability import Metrics, configure_logging
from fastapi_pro.settings import DEFAULT_MAX_BODY_SIZE
from fastapi_pro.testing import assert_problem

SMALL = 64  # a route's own limit, below the default
LARGE = 2 * DEFAULT_MAX_BODY_SIZE  # a route's own limit, above it


def make_app(**app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)

    @app.post("/echo")
    async def echo(data: Annotated[Any, Body()]) -> dict[str, int]:
        return {"size": len(json.dumps(data))}

    @app.post("/small", max_body_size=SMALL)
    async def small(data: Annotated[Any, Body()]) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/large", max_body_size=LARGE)
    async def large(data: Annotated[Any, Body()]) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/no-body")
    async def no_body() -> dict[str, bool]:
        return {"ok": True}

    uploads = APIRouter(prefix="/uploads", max_body_size=SMALL)

    @uploads.post("")
    async def upload(data: Annotated[Any, Body()]) -> dict[str, bool]:
        return {"ok": True}

    app.include_router(uploads)
    return app


def install(app: FastAPI, settings: Settings | None = None, **options: Any) -> FastAPI:
    setup(
        app,
        settings or Settings(_env_file=None),  # type: ignore[call-arg]
        database=False,
        auth=False,
        health=False,
        logging=False,
        **options,
    )
    return app


def json_of_size(size: int) -> bytes:
    """A JSON string of exactly ``size`` bytes."""
    return b'"' + b"x" * (size - 2) + b'"'


JSON = {"content-type": "application/json"}


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_too_large(response: httpx.Response, limit: int) -> None:
    problem = assert_problem(response, 413, code="content_too_large", title="Content Too Large")
    assert problem["detail"] == (
        f"The request body is larger than the {limit} bytes this endpoint accepts."
    )
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_a_body_over_the_default_limit_is_a_413_problem() -> None:
    async with client_for(install(make_app())) as client:
        response = await client.post(
            "/echo", content=json_of_size(DEFAULT_MAX_BODY_SIZE + 1), headers=JSON
        )

    assert_too_large(response, DEFAULT_MAX_BODY_SIZE)


async def test_a_body_at_the_default_limit_is_accepted() -> None:
    async with client_for(install(make_app())) as client:
        response = await client.post(
            "/echo", content=json_of_size(DEFAULT_MAX_BODY_SIZE), headers=JSON
        )

    assert response.status_code == 200
    assert response.json() == {"size": DEFAULT_MAX_BODY_SIZE}


async def test_a_chunked_body_over_the_limit_is_a_413_problem() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'"'
        for _ in range(4):
            yield b"x" * 40

    async with client_for(install(make_app())) as client:
        response = await client.post("/small", content=chunks(), headers=JSON)

    assert "content-length" not in response.request.headers
    assert_too_large(response, SMALL)


async def test_a_declared_length_over_the_limit_is_a_413_problem_where_no_body_is_read() -> None:
    # Starlette answers this one itself, in plain text, once the route has responded.
    async with client_for(install(make_app(max_body_size=SMALL))) as client:
        response = await client.request("GET", "/no-body", content=b"x" * (SMALL + 1))
        small = await client.request("GET", "/no-body", content=b"x" * SMALL)

    assert_too_large(response, SMALL)
    assert small.status_code == 200


@pytest.mark.parametrize(
    ("path", "limit"), [("/small", SMALL), ("/uploads", SMALL), ("/large", LARGE)]
)
async def test_a_route_or_router_limit_overrides_the_default(path: str, limit: int) -> None:
    async with client_for(install(make_app())) as client:
        at_limit = await client.post(path, content=json_of_size(limit), headers=JSON)
        over = await client.post(path, content=json_of_size(limit + 1), headers=JSON)

    assert at_limit.status_code == 200
    assert_too_large(over, limit)


async def test_the_apps_own_limit_is_kept() -> None:
    app = install(make_app(max_body_size=100))

    async with client_for(app) as client:
        response = await client.post("/echo", content=json_of_size(101), headers=JSON)

    assert app.max_body_size == 100
    assert_too_large(response, 100)


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_MAX_BODY_SIZE", "2048")
    assert Settings(_env_file=None).max_body_size == 2048  # type: ignore[call-arg]
    monkeypatch.setenv("FASTAPI_PRO_MAX_BODY_SIZE", "null")
    assert Settings(_env_file=None).max_body_size is None  # type: ignore[call-arg]
    monkeypatch.setenv("FASTAPI_PRO_MAX_BODY_SIZE", "-1")
    with pytest.raises(ValueError, match="max_body_size"):
        Settings(_env_file=None)  # type: ignore[call-arg]


async def test_the_environments_limit_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_MAX_BODY_SIZE", "2048")
    async with client_for(install(make_app())) as client:
        over = await client.post("/echo", content=json_of_size(2049), headers=JSON)
        under = await client.post("/echo", content=json_of_size(2048), headers=JSON)

    assert_too_large(over, 2048)
    assert under.status_code == 200


async def test_no_limit_when_the_setting_is_null() -> None:
    settings = Settings(_env_file=None, max_body_size=None)  # type: ignore[call-arg]
    async with client_for(install(make_app(), settings)) as client:
        response = await client.post(
            "/echo", content=json_of_size(DEFAULT_MAX_BODY_SIZE + 1), headers=JSON
        )

    assert response.status_code == 200


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(json_lines=True, sink=stream)
    yield stream
    logger.remove()
    logging.basicConfig(handlers=[], force=True)
    logging.getLogger("uvicorn.access").disabled = False


def requests_counted(metrics: Metrics, **labels: str) -> float:
    text = metrics.render()[0].decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_server_request_duration_seconds_count"
        and all(sample.labels.get(key) == value for key, value in labels.items())
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_the_413_keeps_the_request_id_metrics_and_access_line(
    access_lines: io.StringIO, *, chunked: bool
) -> None:
    metrics = Metrics()
    app = install(make_app(), metrics=metrics)
    body = json_of_size(SMALL + 1)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    async with client_for(app) as client:
        response = await client.post(
            "/small",
            content=chunks() if chunked else body,
            headers={**JSON, "X-Request-ID": "req-413"},
        )

    assert_too_large(response, SMALL)
    assert response.headers["x-request-id"] == "req-413"
    assert response.headers["x-content-type-options"] == "nosniff"  # security headers too
    labels = {"http_route": "/small", "http_response_status_code": "413"}
    assert requests_counted(metrics, **labels) == 1
    [line] = [
        json.loads(text)
        for text in access_lines.getvalue().splitlines()
        if '"fastapi_pro.access"' in text
    ]
    assert line["request_id"] == "req-413"
    assert line["extra"]["status"] == 413
    assert line["extra"]["route"] == "/small"


# -- a real server, a chunked body ----------------------------------------------------------------


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on a free loopback port and yield the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server has a flag, no event
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def raw_request(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    try:
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass  # the server may answer and close before the whole body is sent
    answer = await reader.read()
    writer.close()
    return answer


async def test_a_chunked_body_over_the_limit_is_refused_by_a_real_server() -> None:
    head = (
        b"POST /small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    async with running(install(make_app())) as port:
        answer = await raw_request(port, head, [b'"' + b"x" * 50, b"x" * 50, b'x"'])
        fine = await raw_request(port, head, [b'"x', b'y"'])

    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.split()[1] == b"413"
    assert b"content-type: application/problem+json" in headers.lower()
    problem = json.loads(body)
    assert problem["code"] == "content_too_large"
    assert problem["status"] == 413
    assert fine.startswith(b"HTTP/1.1 200 OK")


# -- the docs' example ----------------------------------------------------------------------------


def docs_example() -> FastAPI:
    """Run the example of docs/setup.md's "Request body limit" section and return its app."""
    page = (Path(__file__).parent.parent / "docs" / "setup.md").read_text()
    section = page[page.index("## Request body limit") :]
    code = section[section.index("```python\n") + 10 : section.index("\n```\n")]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/setup.md", "exec"), namespace)  # noqa: S102 - our own docs
    app: FastAPI = namespace["app"]
    return app


async def test_the_docs_example_limits_as_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTAPI_PRO_MAX_BODY_SIZE", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env of the working directory
    rows = [{"sku": f"sku-{n:07d}", "name": "x" * 40} for n in range(30_000)]  # about 2 MB

    async with client_for(docs_example()) as client:
        imported = await client.post("/imports", json=rows)
        short = await client.post("/feedback", json="great")
        long = await client.post("/feedback", json="x" * 5000)

    assert imported.json() == {"imported": 30_000}
    assert short.json() == {"length": 5}
    assert_too_large(long, 4096)
