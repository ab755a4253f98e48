"""Where the block fits: route classes, callers, OpenAPI, expiry clean-up, unsupported cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import MetaData, func, insert, select

from fastapi_pro.db import Database, SessionDep
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.idempotency import (
    IdempotencyNotInstalledError,
    IdempotencyOptions,
    IdempotentRoute,
    check_idempotent_routes,
    create_idempotency_table,
    idempotency_table,
    idempotent,
    purge_expired,
)
from fastapi_pro.idempotency._statements import RecordId, lookup
from fastapi_pro.settings import IdempotencySettings, Settings
from tests.idempotency.app import Models, Order, records
from tests.idempotency.test_idempotency import BODY, counts, keyed, replayed


async def test_keys_are_per_caller(client: httpx.AsyncClient, db: Database) -> None:
    ann = await client.post("/v1/orders", json=BODY, headers=keyed("k", **{"X-User": "ann"}))
    bob = await client.post("/v1/orders", json=BODY, headers=keyed("k", **{"X-User": "bob"}))
    anonymous = await client.post("/v1/orders", json=BODY, headers=keyed("k"))
    again = await client.post("/v1/orders", json=BODY, headers=keyed("k", **{"X-User": "ann"}))
    assert [replayed(r) for r in (ann, bob, anonymous, again)] == [False, False, False, True]
    assert again.content == ann.content
    async with db.session() as session:
        rows = await session.execute(select(records.c.principal, records.c.route))
        stored = sorted(tuple(row) for row in rows)
    assert stored == [
        ("address:127.0.0.1", "/v1/orders"),
        ("principal:ann", "/v1/orders"),
        ("principal:bob", "/v1/orders"),
    ]


async def test_openapi_lists_the_problems_of_a_keyed_route(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    required = document["paths"]["/required"]["post"]["responses"]
    optional = document["paths"]["/orders"]["post"]["responses"]
    assert {"400", "409", "422"} <= set(required)
    assert {"400", "409", "422"} <= set(optional)
    missing = "idempotency_key_missing"
    assert missing in str(required["400"])
    assert missing not in str(optional["400"])


def _unrouted_app(db: Database, route_class: type | None = None) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)
    router = APIRouter() if route_class is None else APIRouter(route_class=route_class)

    @router.post("/orders", dependencies=[idempotent(records)])
    async def create(session: SessionDep) -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(router, prefix="/api")

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_a_keyed_route_without_the_route_class_fails_the_start(db: Database) -> None:
    with pytest.raises(IdempotencyNotInstalledError, match="'/api/orders'"):
        check_idempotent_routes(_unrouted_app(db))
    check_idempotent_routes(_unrouted_app(db, IdempotentRoute))


async def test_a_keyed_route_without_the_route_class_fails_its_first_request(
    db: Database,
) -> None:
    app = _unrouted_app(db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/api/orders", headers=keyed("k"))
            unkeyed = await client.post("/api/orders")
    assert response.status_code == unkeyed.status_code == 500
    assert await counts(db) == (0, 0)


async def test_a_streamed_response_is_refused_and_nothing_is_stored(db: Database) -> None:
    app = FastAPI(lifespan=db.lifespan)
    app.router.route_class = IdempotentRoute
    install_error_handlers(app)

    @app.post("/stream", dependencies=[idempotent(records)])
    async def stream(session: SessionDep) -> StreamingResponse:
        return StreamingResponse(iter([b"a"]))

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/stream", headers=keyed("k"))
    assert response.status_code == 500
    assert await counts(db) == (0, 0)


async def test_purge_expired_deletes_only_expired_records(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post("/orders", json=BODY, headers=keyed("live"))
    await client.post("/short", json=BODY, headers=keyed("gone"))
    assert await purge_expired(db, records) == 1
    assert await counts(db) == (2, 1)
    later = datetime.now(UTC) + timedelta(days=2)
    assert await purge_expired(db, records, now=later) == 1
    assert await counts(db) == (2, 0)


async def test_create_idempotency_table_creates_it_once(database_url: str) -> None:
    database = Database(database_url)
    table = idempotency_table(MetaData(), "idem_test_created")
    try:
        await create_idempotency_table(database, table)
        await create_idempotency_table(database, table)
        async with database.session() as session:
            assert await session.scalar(select(func.count()).select_from(table)) == 0
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(table.drop, checkfirst=True)
        await database.dispose()


def test_other_databases_are_refused_by_name() -> None:
    record = RecordId("k", "p", "POST", "/orders")
    with pytest.raises(RuntimeError, match="'mysql'"):
        lookup("mysql", records, record, datetime.now(UTC))


async def _serve(app: FastAPI, *headers: dict[str, str]) -> list[httpx.Response]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.post("/orders", json=BODY, headers=h) for h in headers]


async def test_a_server_error_response_is_not_stored(db: Database) -> None:
    app = FastAPI(lifespan=db.lifespan)
    app.router.route_class = IdempotentRoute

    @app.post("/orders", dependencies=[idempotent(records)])
    async def unavailable(session: SessionDep) -> JSONResponse:
        session.add(Order(item="book", qty=1))
        return JSONResponse({"busy": True}, status_code=503)

    first, second = await _serve(app, keyed("k"), keyed("k"))
    assert first.status_code == second.status_code == 503
    assert not replayed(second)
    assert (await counts(db))[1] == 0


@pytest.mark.postgres
async def test_a_record_committed_by_another_transaction_meanwhile_undoes_the_request(
    postgres_database: str,
) -> None:
    """A live record that commits between the lookup and the store: 409, and no order."""
    db = Database(postgres_database)
    async with db.engine.begin() as connection:
        await connection.run_sync(Models.metadata.drop_all)
        await connection.run_sync(Models.metadata.create_all)
    app = FastAPI(lifespan=db.lifespan)
    app.router.route_class = IdempotentRoute
    install_error_handlers(app)
    later = datetime.now(UTC) + timedelta(hours=1)
    other = {"key": "k", "principal": "address:127.0.0.1", "method": "POST", "route": "/orders"}
    other |= {
        "fingerprint": "0" * 64,
        "status": 201,
        "headers": "{}",
        "body": b"",
        "expires_at": later,
    }

    @app.post("/orders", status_code=201, dependencies=[idempotent(records)])
    async def create(session: SessionDep) -> dict[str, str]:
        session.add(Order(item="book", qty=1))
        async with db.engine.begin() as elsewhere:
            await elsewhere.execute(insert(records).values(other))
        return {"ok": "yes"}

    try:
        (raced,) = await _serve(app, keyed("k"))
        assert raced.status_code == 409
        assert raced.json()["code"] == "idempotency_key_in_use"
        assert raced.headers["retry-after"] == "1"
        assert await counts(db) == (0, 1)
    finally:
        async with db.engine.begin() as connection:
            await connection.run_sync(Models.metadata.drop_all)
        await db.dispose()


def test_the_options_come_from_the_settings_section() -> None:
    section = IdempotencySettings(
        header="X-Key", ttl="PT1H", replay_headers=["Location"], enabled=False, retry_after=3
    )
    options = IdempotencyOptions.from_settings(Settings(idempotency=section))
    assert options == IdempotencyOptions(
        header="X-Key",
        ttl=timedelta(hours=1),
        replay_headers=("location",),
        enabled=False,
        retry_after=3,
    )
    assert IdempotencyOptions.from_settings(Settings()) == IdempotencyOptions()


async def test_when_disabled_every_request_runs_and_nothing_is_stored(db: Database) -> None:
    app = FastAPI(lifespan=db.lifespan)
    app.router.route_class = IdempotentRoute
    off = idempotent(records, required=True, options=IdempotencyOptions(enabled=False))

    @app.post("/orders", status_code=201, dependencies=[off])
    async def create(session: SessionDep) -> dict[str, str]:
        session.add(Order(item="book", qty=1))
        return {"ok": "yes"}

    responses = await _serve(app, keyed("k"), keyed("k"), {})
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert await counts(db) == (3, 0)


@pytest.mark.parametrize(
    ("option", "value"), [("max_key_length", 0), ("max_key_length", 256), ("retry_after", -1)]
)
def test_options_out_of_range_are_refused_by_name(option: str, value: int) -> None:
    with pytest.raises(ValueError, match=option):
        IdempotencyOptions(**{option: value})


async def test_a_caller_name_longer_than_the_column_is_kept_as_its_hash(
    client: httpx.AsyncClient, db: Database
) -> None:
    long_name = {"X-User": "u" * 300}
    first = await client.post("/v1/orders", json=BODY, headers=keyed("k", **long_name))
    retry = await client.post("/v1/orders", json=BODY, headers=keyed("k", **long_name))
    assert replayed(retry)
    assert retry.content == first.content
    async with db.session() as session:
        principal = await session.scalar(select(records.c.principal))
    assert principal is not None
    assert principal.startswith("sha256:")
    assert len(principal) == len("sha256:") + 64
