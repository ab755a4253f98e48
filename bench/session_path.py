"""The documented data path against hand-written SQLAlchemy, as users run both.

Run: ``uv run --group bench python bench/session_path.py [--rounds 15] [--backend both]``.

`bench/repository.py` compares repositories on one plain session. This one measures the path the
docs show, end to end: ``Database(url)`` with its defaults, one unit of work per call through
``db.session()`` (what `SessionDep` runs for a request: commit on success, release in any case)
and a `Repository`. The hand-written side is what a careful user writes without fastapi-pro: an
engine with the same pool size, timeouts and SQLite pragmas but SQLAlchemy's defaults otherwise,
``async with maker() as session`` and, for writes, ``await session.commit()``. Both run the same
statements; every write is committed, as a request's would be.

Target: every operation at most 1.15x hand-written, on SQLite and PostgreSQL.

The HTTP case serves ``GET /items/{id}`` twice from one app (the database's lifespan only, no
middleware): once through `SessionDep` and a repository obtained the documented way, once through
a hand-written ``async with maker() as s: yield s`` dependency and ``session.get``. Requests go
through the ASGI interface directly (bench/_asgi.py). Target: at most 1.15x.

The process is pinned to one CPU (aiosqlite's thread included) and cases are interleaved in
slices, so that whatever else the machine does falls on all of them alike.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local annotations.

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from _asgi import call, http_scope, interleaved
from _scratch import recreate_database
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped

from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    Database,
    PageParams,
    Repository,
    Timestamps,
)

ROWS = 10_000
PAGE = 50
BULK = 1_000
BENCH_DATABASE = "fastapi_pro_bench_path"
OPERATIONS = ("get", "page", "insert", "update", "bulk insert")
COUNTS = {"get": 300, "page": 100, "insert": 200, "update": 200, "bulk insert": 4}
SLICE = {"get": 10, "page": 5, "insert": 10, "update": 10, "bulk insert": 1}


class Item(BigIntPrimaryKey, Timestamps, Base):
    __tablename__ = "bench_path_items"

    name: Mapped[str]
    price: Mapped[int]


class ItemRepository(Repository[Item]):
    pass


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: int


Maker = async_sessionmaker[AsyncSession]
Items = Annotated[ItemRepository, Depends(ItemRepository.for_request)]  # as docs/db.md shows


# -- hand-written ---------------------------------------------------------------------------------


def plain_engine(url: str) -> AsyncEngine:
    """SQLAlchemy's defaults, with the pool size, timeouts and SQLite pragmas `Database` uses."""
    db_url = make_url(url)
    connect_args: dict[str, Any] = {}
    if db_url.get_backend_name() == "postgresql":
        connect_args = {
            "timeout": 5.0,
            "command_timeout": 6.0,
            "server_settings": {"statement_timeout": "5000"},
        }
    engine = create_async_engine(
        db_url, pool_size=5, max_overflow=10, pool_timeout=5.0, connect_args=connect_args
    )
    if db_url.get_backend_name() == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("foreign_keys=ON", "busy_timeout=5000", "journal_mode=WAL"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


async def raw_get(maker: Maker, id: int) -> Any:
    async with maker() as session:
        return await session.get(Item, id)


async def raw_page(maker: Maker, offset: int) -> Any:
    async with maker() as session:
        total = select(func.count()).select_from(Item).scalar_subquery()
        statement = select(Item, total).order_by(Item.id).limit(PAGE).offset(offset)
        rows = (await session.execute(statement)).all()
        return [row[0] for row in rows], rows[0][1]


async def raw_insert(maker: Maker, values: dict[str, Any]) -> Any:
    async with maker() as session:
        item = Item(**values)
        session.add(item)
        await session.commit()
        return item


async def raw_update(maker: Maker, change: tuple[int, str]) -> Any:
    id, name = change
    async with maker() as session:
        statement = update(Item).where(Item.id == id).values(name=name).returning(Item)
        item = (await session.scalars(statement)).one()
        await session.commit()
        return item


async def raw_bulk(maker: Maker, rows: list[dict[str, Any]]) -> Any:
    async with maker() as session:
        items = (await session.scalars(insert(Item).returning(Item), rows)).all()
        await session.commit()
        return items


# -- the documented path --------------------------------------------------------------------------


async def pro_get(db: Database, id: int) -> Any:
    async with db.session() as session:
        return await ItemRepository(session).get(id)


async def pro_page(db: Database, offset: int) -> Any:
    async with db.session() as session:
        page = await ItemRepository(session).page(PageParams(limit=PAGE, offset=offset))
        return page.items, page.total


async def pro_insert(db: Database, values: dict[str, Any]) -> Any:
    async with db.session() as session:
        return await ItemRepository(session).add(Item(**values))


async def pro_update(db: Database, change: tuple[int, str]) -> Any:
    id, name = change
    async with db.session() as session:
        return await ItemRepository(session).update(id, {"name": name})


async def pro_bulk(db: Database, rows: list[dict[str, Any]]) -> Any:
    async with db.session() as session:
        return await ItemRepository(session).add_many(rows)


Call = Callable[[Any, Any], Awaitable[Any]]
RAW: dict[str, Call] = {
    "get": raw_get,
    "page": raw_page,
    "insert": raw_insert,
    "update": raw_update,
    "bulk insert": raw_bulk,
}
PRO: dict[str, Call] = {
    "get": pro_get,
    "page": pro_page,
    "insert": pro_insert,
    "update": pro_update,
    "bulk insert": pro_bulk,
}


def check(operation: str, result: Any, argument: Any) -> None:
    if operation == "get":
        assert result.id == argument
    elif operation == "page":
        items, total = result
        assert total >= ROWS
        assert len(items) == PAGE
    elif operation == "insert":
        assert result.id > ROWS
    elif operation == "update":
        assert (result.id, result.name) == argument
    else:
        assert len(result) == len(argument)


def argument_for(operation: str, rng: random.Random, serial: int) -> Any:
    if operation in ("get", "page"):
        return rng.randint(1, ROWS) if operation == "get" else rng.randrange(0, ROWS - PAGE)
    if operation == "insert":
        return {"name": f"new-{serial}", "price": rng.randint(1, 999)}
    if operation == "update":
        return (rng.randint(1, ROWS), f"renamed-{serial}")
    return [{"name": f"bulk-{serial}-{i}", "price": i} for i in range(BULK)]


async def timed(call_: Call, target: Any, arguments: list[Any]) -> float:
    begin = time.perf_counter()
    for argument in arguments:
        await call_(target, argument)
    return time.perf_counter() - begin


async def run_operations(db: Database, maker: Maker, rounds: int, scale: float) -> dict[str, Any]:
    rng = random.Random(3)
    serial = 0
    for operation in OPERATIONS:  # check the work, warm up
        for _ in range(3):
            serial += 1
            argument = argument_for(operation, rng, serial)
            check(operation, await RAW[operation](maker, argument), argument)
            check(operation, await PRO[operation](db, argument), argument)
    samples: dict[str, list[float]] = {operation: [] for operation in OPERATIONS}
    for _ in range(rounds):
        for operation in OPERATIONS:
            count = max(int(COUNTS[operation] * scale), 1)
            spent = {"raw": 0.0, "pro": 0.0}
            for _slice in range(0, count, SLICE[operation]):
                arguments = []
                for _ in range(SLICE[operation]):
                    serial += 1
                    arguments.append(argument_for(operation, rng, serial))
                gc.collect()
                spent["raw"] += await timed(RAW[operation], maker, arguments)
                spent["pro"] += await timed(PRO[operation], db, arguments)
            samples[operation].append(spent["pro"] / spent["raw"])
            samples.setdefault(f"{operation} µs", []).append(spent["raw"] / count * 1e6)
    return {key: statistics.median(values) for key, values in samples.items()}


def http_app(db: Database, maker: Maker) -> FastAPI:
    app = FastAPI()

    @app.get("/documented/{id}")
    async def documented(
        id: int, items: Annotated[ItemRepository, Depends(ItemRepository.for_request)]
    ) -> ItemOut:
        return ItemOut.model_validate(await items.get(id))

    async def plain_session() -> AsyncIterator[AsyncSession]:
        async with maker() as session:
            yield session

    @app.get("/plain/{id}")
    async def plain(id: int, session: Annotated[AsyncSession, Depends(plain_session)]) -> ItemOut:
        return ItemOut.model_validate(await session.get(Item, id))

    return app


async def run_http(db: Database, maker: Maker, rounds: int, scale: float) -> dict[str, float]:
    app = http_app(db, maker)
    async with db.lifespan(app):
        cases = {
            name: (app, http_scope(f"/{name}/{ROWS // 2}")) for name in ("plain", "documented")
        }
        for app_, scope in cases.values():
            status, body = await call(app_, scope)
            assert status == 200, body
        medians = await interleaved(cases, rounds, max(int(200 * scale), 10))
    return {"plain": medians["plain"], "documented": medians["documented"]}


async def seed(db: Database) -> None:
    await db.create_all(Base.metadata)
    rows = [{"name": f"item-{i}", "price": i % 999 + 1} for i in range(1, ROWS + 1)]
    async with db.session() as session:
        await session.execute(insert(Item), rows)


async def run_backend(label: str, url: str, rounds: int, scale: float) -> None:
    db = Database(url)  # the defaults, as the docs show it
    engine = plain_engine(url)
    maker: Maker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        await seed(db)
        gc.collect()
        gc.freeze()
        ratios = await run_operations(db, maker, rounds, scale)
        http = await run_http(db, maker, rounds, scale)
    finally:
        gc.unfreeze()
        await db.dispose()
        await engine.dispose()
    print(f"\n{label}: the documented path against hand-written SQLAlchemy (median of rounds)")
    print("| Operation | hand-written µs | documented / hand-written |")
    print("| --- | ---: | ---: |")
    for operation in OPERATIONS:
        print(f"| {operation} | {ratios[operation + ' µs']:.0f} | {ratios[operation]:.2f}x |")
    plain, documented = http["plain"] * 1e6, http["documented"] * 1e6
    print(
        f"| HTTP GET /items/{{id}} | {plain:.0f} | {documented / plain:.2f}x "
        f"({documented:.0f} µs) |"
    )
    misses = [op for op in OPERATIONS if ratios[op] > 1.15]
    misses += ["HTTP"] if documented > 1.15 * plain else []
    print("targets met" if not misses else f"targets missed: {', '.join(misses)}")


async def main(rounds: int, backend: str, postgres_url: str, scale: float) -> None:
    packages = ("fastapi", "sqlalchemy", "aiosqlite", "asyncpg", "fastapi-pro")
    print(", ".join(f"{name} {version(name)}" for name in packages))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    if backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            await run_backend("SQLite (aiosqlite)", url, rounds, scale)
    if backend in ("postgres", "both"):
        try:
            url = await recreate_database(postgres_url, BENCH_DATABASE)
        except (OSError, asyncpg.PostgresError) as error:
            print(f"\nPostgreSQL skipped: {postgres_url} did not answer ({error}).")
            return
        try:
            await run_backend("PostgreSQL (asyncpg)", url, rounds, scale)
        finally:
            await recreate_database(postgres_url, BENCH_DATABASE, drop_only=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--scale", type=float, default=1.0, help="calls per round, multiplied")
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.backend, options.postgres_url, options.scale))
