from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message, Receive, Scope, Send

from fastapi_pro.db import Database, SessionDep
from fastapi_pro.errors import install_error_handlers
from tests.db.models import Product, ProductRepository
from tests.servers import free_port

ProductRepo = Annotated[ProductRepository, Depends(ProductRepository.for_request)]


class ThreadNoting(ProductRepository):
    def __init__(self, session: SessionDep) -> None:
        super().__init__(session)
        self.thread = threading.current_thread()


async def session_of_a_dependency(session: SessionDep) -> AsyncSession:
    return session


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.get("/same")
    async def same(
        session: SessionDep,
        via_dependency: Annotated[AsyncSession, Depends(session_of_a_dependency)],
        repo: ProductRepo,
    ) -> dict[str, bool]:
        return {"shared": session is via_dependency is repo.session}

    @app.get("/built-in")
    async def built_in(
        documented: Annotated[ThreadNoting, Depends(ThreadNoting.for_request)],
        on_the_class: Annotated[ThreadNoting, Depends()],
    ) -> dict[str, bool]:
        here = threading.current_thread()
        return {"for_request": documented.thread is here, "class": on_the_class.thread is here}

    @app.post("/products/{sku}", status_code=201)
    async def create(sku: str, repo: ProductRepo) -> dict[str, str]:
        added = await repo.add(Product(sku=sku, name=sku, price=1))
        return {"id": str(added.id)}

    @app.post("/deferred/{sku}", status_code=201)
    async def deferred(sku: str, session: SessionDep) -> dict[str, str]:
        session.add(Product(sku=sku, name=sku, price=1))  # flushed only by the commit
        return {"status": "created"}

    @app.post("/fails-after-write/{sku}")
    async def fails_after_write(sku: str, repo: ProductRepo) -> None:
        await repo.add(Product(sku=sku, name=sku, price=1))
        raise RuntimeError("boom after the write")

    @app.get("/slow")
    async def slow(session: SessionDep) -> None:
        await session.execute(select(func.count()).select_from(Product))
        await asyncio.sleep(30)

    return app


async def count_products(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Product)) or 0)


async def checked_out(db: Database) -> int:
    pool: Any = db.engine.pool
    return int(pool.checkedout())


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_one_session_is_shared_by_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/same")

    assert response.json() == {"shared": True}


async def test_the_commit_happens_before_the_response_is_sent(db: Database) -> None:
    seen_at_start: list[int] = []
    app = make_app(db)

    async def watch(scope: Scope, receive: Receive, send: Send) -> None:
        async def checking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen_at_start.append(await count_products(db))
            await send(message)

        await app(scope, receive, checking_send)

    async with LifespanManager(watch) as manager:  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/products/a")

    assert response.status_code == 201
    assert seen_at_start == [1]


async def test_a_unique_violation_at_commit_time_is_a_409_and_nothing_persists(
    client: httpx.AsyncClient, db: Database
) -> None:
    assert (await client.post("/deferred/dup")).status_code == 201

    response = await client.post("/deferred/dup")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unique_violation"
    assert body["fields"] == ["sku"]
    assert "dup" not in body["detail"]
    assert await count_products(db) == 1


async def test_an_endpoint_that_raises_after_writing_persists_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post("/fails-after-write/x")

    assert response.status_code == 500
    assert "boom" not in response.text
    assert await count_products(db) == 0
    assert await checked_out(db) == 0


async def test_an_unreachable_database_is_a_503(unused_tcp_port: int) -> None:
    db = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none")
    app = make_app(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/products/a")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"
    assert "nobody" not in response.text


async def test_an_exhausted_pool_is_a_503(tmp_path: Any) -> None:
    db = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}",
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    await db.create_all(Product.metadata)
    app = make_app(db)
    async with LifespanManager(app) as manager, db.engine.connect() as held:
        await held.execute(text("SELECT 1"))  # the pool's only connection, kept busy
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/products/a")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"


async def test_a_cancelled_request_returns_its_connection(db: Database) -> None:
    app = make_app(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            request = asyncio.create_task(client.get("/slow"))
            while await checked_out(db) == 0:  # noqa: ASYNC110 - the pool offers no event
                await asyncio.sleep(0.01)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request

    for _ in range(100):
        if await checked_out(db) == 0:
            break
        await asyncio.sleep(0.01)
    assert await checked_out(db) == 0


@pytest.mark.postgres
async def test_a_client_that_disconnects_mid_request_leaves_no_connection_checked_out(
    postgres_database: str,
) -> None:
    db = Database(postgres_database)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/sleep")
    async def sleep(session: SessionDep) -> dict[str, str]:
        await session.execute(text("SELECT pg_sleep(1.0)"))
        return {"status": "done"}

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/sleep", timeout=0.1)
        for _ in range(100):  # the request is still running on the server, connection held
            if await checked_out(db) == 1:
                break
            await asyncio.sleep(0.01)
        assert await checked_out(db) == 1
        for _ in range(300):
            if await checked_out(db) == 0:
                break
            await asyncio.sleep(0.01)
        assert await checked_out(db) == 0
    finally:
        server.should_exit = True
        await serving


async def test_no_database_lifespan_is_a_clear_error(db: Database) -> None:
    app = FastAPI()

    @app.get("/")
    async def root(session: SessionDep) -> None:
        return None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"FastAPI\(lifespan=db.lifespan\)"):
            await client.get("/")


async def test_the_endpoints_own_os_errors_are_not_mistaken_for_the_database(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(db)

    @app.get("/reads-a-file")
    async def reads_a_file(session: SessionDep) -> None:
        await session.execute(select(func.count()).select_from(Product))
        open("/nonexistent/config.toml")  # noqa: ASYNC230, PTH123, SIM115 - the error under test

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/reads-a-file")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_server_error"
    assert any("FileNotFoundError" in r.getMessage() for r in caplog.records)


async def test_for_request_builds_the_repository_without_a_thread_hop(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/built-in")
    # Depends() on the class runs its constructor in FastAPI's threadpool; for_request does not.
    assert response.json() == {"for_request": True, "class": False}


async def test_routes_using_for_request_document_the_repository_problems(
    client: httpx.AsyncClient,
) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/products/{sku}"]["post"]
    assert {"404", "409", "503"} <= set(operation["responses"])
