"""Where SQLAlchemy's async session costs against raw asyncpg, on one read, in one process.

Run: ``uv run --group bench python bench/asyncsession.py [--rounds 7] [--calls 200]``.

No HTTP: each layer makes the same read as a request would, its connection checkout and its
transaction's end included, one call after another, and layers take turns (interleaved, the
order rotating) over ``--rounds`` rounds; each figure is the median over rounds of µs per call,
with its ratio to the asyncpg pool and its round trips to PostgreSQL per call, counted on the
wire by a proxy (`_pgwire.RoundTrips`; statements, ``BEGIN``/``COMMIT``/``ROLLBACK``, pings
and pool resets alike). Two reads: the 20 tags of RealWorld's ``GET /api/tags``, and one tag
by primary key.

Layers: asyncpg's pool (``acquire`` + ``fetch``); one asyncpg connection with a prepared
statement kept (the floor: no pool); SQLAlchemy ``AsyncConnection.execute(text(...))``; Core
``select(tags.c.name)``; ``AsyncSession.execute(select(Tag.name))`` (ORM columns);
``AsyncSession.scalars(select(Tag))`` / ``session.get`` (ORM entities); fastapi-pro's
``Database(url)`` with its defaults, through ``Database.sessionmaker`` and through
``Database.session()`` (commits, as ``SessionDep`` does), and ``Database.session()`` without
pool pre-ping. The SQLAlchemy engine of the plain layers has Database's pool size and no
pre-ping.

At the end, a cProfile of the ORM-columns path (``AsyncSession.execute``) shows where its time
goes: the top entries by cumulative time, and its own time summed by package.

The scratch database ``fastapi_pro_bench_session`` is created at the start and dropped at the
end, on the server named by ``--postgres-url``. The process runs on one CPU (``--cpu``). The profile
measures CPU time (``time.process_time``), so waits on the server do not show.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from _pgwire import RoundTrips
from _scratch import recreate_database
from sqlalchemy import String, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import Base, BigIntPrimaryKey, Database

BENCH_DATABASE = "fastapi_pro_bench_session"
TAGS = [f"tag-{i:02}" for i in range(1, 21)]
LIST_SQL = "SELECT name FROM tags ORDER BY name"
GET_SQL = "SELECT id, name FROM tags WHERE id = $1"


class Tag(BigIntPrimaryKey, Base):
    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(String(50), unique=True)


tags = Tag.__table__


@dataclass
class Layers:
    """Every layer's objects, on one URL."""

    pool: asyncpg.Pool
    connection: asyncpg.Connection
    prepared_list: Any
    prepared_get: Any
    engine: AsyncEngine
    maker: async_sessionmaker[AsyncSession]
    db: Database
    db_no_ping: Database

    @classmethod
    async def open(cls, url: str) -> Layers:
        plain = make_url(url).set(drivername="postgresql").render_as_string(False)
        pool = await asyncpg.create_pool(plain, min_size=5, max_size=15)
        connection = await asyncpg.connect(plain)
        engine = create_async_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=False)
        return cls(
            pool,
            connection,
            await connection.prepare(LIST_SQL),
            await connection.prepare(GET_SQL),
            engine,
            async_sessionmaker(engine, expire_on_commit=False),
            Database(url),
            Database(url, pool_pre_ping=False),
        )

    async def close(self) -> None:
        await self.pool.close()
        await self.connection.close()
        await self.engine.dispose()
        await self.db.dispose()
        await self.db_no_ping.dispose()


# -- the layers: each returns the names (list) or the (id, name) of one tag (get) ---------------


async def pool_list(x: Layers, _: int) -> list[str]:
    async with x.pool.acquire() as connection:
        return [row[0] for row in await connection.fetch(LIST_SQL)]


async def pool_get(x: Layers, id: int) -> tuple[int, str]:
    async with x.pool.acquire() as connection:
        row = await connection.fetchrow(GET_SQL, id)
    return row[0], row[1]


async def prepared_list(x: Layers, _: int) -> list[str]:
    return [row[0] for row in await x.prepared_list.fetch()]


async def prepared_get(x: Layers, id: int) -> tuple[int, str]:
    row = await x.prepared_get.fetchrow(id)
    return row[0], row[1]


async def text_list(x: Layers, _: int) -> list[str]:
    async with x.engine.connect() as connection:
        return list((await connection.execute(text(LIST_SQL.replace("$1", ":id")))).scalars())


async def text_get(x: Layers, id: int) -> tuple[int, str]:
    async with x.engine.connect() as connection:
        row = (await connection.execute(text(GET_SQL.replace("$1", ":id")), {"id": id})).one()
    return row[0], row[1]


async def core_list(x: Layers, _: int) -> list[str]:
    async with x.engine.connect() as connection:
        statement = select(tags.c.name).order_by(tags.c.name)
        return list((await connection.execute(statement)).scalars())


async def core_get(x: Layers, id: int) -> tuple[int, str]:
    async with x.engine.connect() as connection:
        statement = select(tags.c.id, tags.c.name).where(tags.c.id == id)
        row = (await connection.execute(statement)).one()
    return row[0], row[1]


async def columns_list(x: Layers, _: int, maker: Any = None) -> list[str]:
    async with (maker or x.maker)() as session:
        return list((await session.execute(select(Tag.name).order_by(Tag.name))).scalars())


async def columns_get(x: Layers, id: int, maker: Any = None) -> tuple[int, str]:
    async with (maker or x.maker)() as session:
        row = (await session.execute(select(Tag.id, Tag.name).where(Tag.id == id))).one()
    return row[0], row[1]


async def entities_list(x: Layers, _: int) -> list[str]:
    async with x.maker() as session:
        return [tag.name for tag in await session.scalars(select(Tag).order_by(Tag.name))]


async def entities_get(x: Layers, id: int) -> tuple[int, str]:
    async with x.maker() as session:
        tag = await session.get(Tag, id)
    assert tag is not None
    return tag.id, tag.name


async def db_maker_list(x: Layers, _: int) -> list[str]:
    return await columns_list(x, _, x.db.sessionmaker)


async def db_maker_get(x: Layers, id: int) -> tuple[int, str]:
    return await columns_get(x, id, x.db.sessionmaker)


async def session_list(x: Layers, _: int, db: Database | None = None) -> list[str]:
    async with (db or x.db).session() as session:
        return list(await session.scalars(select(Tag.name).order_by(Tag.name)))


async def session_get(x: Layers, id: int, db: Database | None = None) -> tuple[int, str]:
    async with (db or x.db).session() as session:
        tag = await session.get(Tag, id)
    assert tag is not None
    return tag.id, tag.name


async def no_ping_list(x: Layers, _: int) -> list[str]:
    return await session_list(x, _, x.db_no_ping)


async def no_ping_get(x: Layers, id: int) -> tuple[int, str]:
    return await session_get(x, id, x.db_no_ping)


Call = Callable[[Layers, int], Awaitable[Any]]
LAYERS: dict[str, tuple[Call, Call]] = {
    "asyncpg pool: acquire + fetch": (pool_list, pool_get),
    "asyncpg connection, prepared statement (no pool)": (prepared_list, prepared_get),
    "AsyncConnection.execute(text(...))": (text_list, text_get),
    "AsyncConnection.execute(select(table.c...)) (Core)": (core_list, core_get),
    "AsyncSession.execute(select(Tag.name)) (ORM columns)": (columns_list, columns_get),
    "AsyncSession.scalars(select(Tag)) / get (ORM entities)": (entities_list, entities_get),
    "Database(url).sessionmaker, ORM columns": (db_maker_list, db_maker_get),
    "Database(url).session(), commit (as SessionDep)": (session_list, session_get),
    "Database(url, pool_pre_ping=False).session()": (no_ping_list, no_ping_get),
}
OPERATIONS = ("list of 20 tags", "get by primary key")


def check(operation: int, result: Any, id: int) -> None:
    if operation == 0:
        assert result == TAGS, result
    else:
        assert result == (id, TAGS[id - 1]), result


async def round_trips(url: str) -> dict[tuple[str, int], tuple[float, list[str]]]:
    proxy = RoundTrips()
    port = await proxy.start()
    layers = await Layers.open(proxy.url(url, port))
    counts: dict[tuple[str, int], tuple[float, list[str]]] = {}
    try:
        for name, calls in LAYERS.items():
            for operation, call in enumerate(calls):
                for _ in range(3):
                    check(operation, await call(layers, 5), 5)
                before = proxy.count
                for _ in range(10):
                    proxy.sent.clear()
                    await call(layers, 5)
                counts[name, operation] = ((proxy.count - before) / 10, list(proxy.sent))
    finally:
        await layers.close()
        await proxy.close()
    return counts


async def time_calls(call: Call, layers: Layers, count: int) -> float:
    begin = time.perf_counter()
    for i in range(count):
        await call(layers, 1 + i % len(TAGS))
    return (time.perf_counter() - begin) / count


async def measure(url: str, rounds: int, count: int) -> dict[tuple[str, int], float]:
    layers = await Layers.open(url)
    samples: dict[tuple[str, int], list[float]] = {}
    try:
        for name, calls in LAYERS.items():  # warm up: connections, prepared statements, caches
            for operation, call in enumerate(calls):
                for i in range(1, 51):
                    check(operation, await call(layers, 1 + i % 20), 1 + i % 20)
                samples[name, operation] = []
        gc.collect()
        gc.freeze()
        for round_ in range(rounds):
            keys = list(samples)
            shift = round_ % len(keys)
            for key in keys[shift:] + keys[:shift]:
                samples[key].append(await time_calls(LAYERS[key[0]][key[1]], layers, count))
    finally:
        gc.unfreeze()
        await layers.close()
    return {key: statistics.median(values) for key, values in samples.items()}


async def profile(url: str, count: int) -> pstats.Stats:
    layers = await Layers.open(url)
    try:
        await time_calls(columns_list, layers, 100)
        profiler = cProfile.Profile(time.process_time)  # CPU time: waits on the server left out
        profiler.enable()
        await time_calls(columns_list, layers, count)
        profiler.disable()
    finally:
        await layers.close()
    return pstats.Stats(profiler)


PACKAGES = (
    ("sqlalchemy/orm", "SQLAlchemy ORM (session, context, loading)"),
    ("sqlalchemy/engine", "SQLAlchemy engine (execution, results, cursor)"),
    ("sqlalchemy/sql", "SQLAlchemy SQL (cache keys, compiler, elements)"),
    ("sqlalchemy/pool", "SQLAlchemy pool (checkout, reset)"),
    ("sqlalchemy/dialects", "SQLAlchemy asyncpg dialect (adapter)"),
    ("sqlalchemy/util", "SQLAlchemy util (greenlet bridge, helpers)"),
    ("sqlalchemy/ext/asyncio", "SQLAlchemy asyncio facade"),
    ("sqlalchemy/event", "SQLAlchemy events"),
    ("asyncpg", "asyncpg"),
    ("asyncio", "asyncio event loop"),
)


def package_of(filename: str) -> str:
    for fragment, label in PACKAGES:
        if fragment in filename:
            return label
    if filename.startswith("~") or filename == "":
        return "built-ins (greenlet switches, C calls, the epoll wait)"
    return "other"


def print_profile(stats: pstats.Stats, count: int) -> None:
    print(f"\ncProfile, AsyncSession.execute(select(Tag.name)), {count} calls")
    print("Top cumulative entries, CPU µs per call of the layer (calls: per call of the layer;")
    print("a coroutine counts once per resumption):")
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    entries = sorted(raw.items(), key=lambda item: item[1][3], reverse=True)
    entries = [entry for entry in entries if __file__ not in entry[0][0]]  # the driving loop
    for (filename, line, function), (_, calls, _own, cumulative, _) in entries[:25]:
        where = filename.split("site-packages/")[-1]
        per_call = cumulative / count * 1e6
        print(f"{per_call:8.1f} µs  {calls / count:5.1f}x  {function}  ({where}:{line})")
    own: dict[str, float] = {}
    for (filename, _line, _function), (_, _calls, self_time, _cum, _) in raw.items():
        label = package_of(filename)
        own[label] = own.get(label, 0.0) + self_time
    total = sum(own.values())
    print("\nOwn time by package (profiler overhead inflates every figure alike):")
    for label, seconds in sorted(own.items(), key=lambda item: item[1], reverse=True):
        print(f"{seconds / count * 1e6:8.1f} µs  {seconds / total:6.1%}  {label}")


def print_table(
    results: dict[tuple[str, int], float],
    trips: dict[tuple[str, int], tuple[float, list[str]]],
    rounds: int,
    count: int,
) -> None:
    print(f"\nMedian of {rounds} rounds of {count} calls; ratio to the asyncpg pool\n")
    for operation, title in enumerate(OPERATIONS):
        base = results[next(iter(LAYERS)), operation]
        print(f"**{title}**\n")
        print("| Layer | µs per call | vs asyncpg pool | round trips |")
        print("| --- | ---: | ---: | ---: |")
        for name in LAYERS:
            seconds = results[name, operation]
            print(
                f"| {name} | {seconds * 1e6:.0f} | {seconds / base:.2f}x "
                f"| {trips[name, operation][0]:g} |"
            )
        print()
    print("What one call sends (<sync>: an extended-protocol round trip), list of tags:")
    for name in LAYERS:
        sent = " | ".join(" ".join(m.split())[:40] for m in trips[name, 0][1])
        print(f"- {name}: {sent}")


async def seed(url: str) -> None:
    db = Database(url)
    try:
        await db.create_all(Base.metadata)
        async with db.session() as session:
            session.add_all(Tag(name=name) for name in TAGS)
    finally:
        await db.dispose()


async def main(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {args.cpu})
    url = await recreate_database(args.postgres_url, BENCH_DATABASE)
    try:
        await seed(url)
        trips = await round_trips(url)
        results = await measure(url, args.rounds, args.calls)
        stats = await profile(url, args.profile_calls)
    finally:
        await recreate_database(args.postgres_url, BENCH_DATABASE, drop_only=True)
    print_table(results, trips, args.rounds, args.calls)
    print_profile(stats, args.profile_calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200, help="calls per layer and round")
    parser.add_argument("--profile-calls", type=int, default=2000)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FASTAPI_PRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    asyncio.run(main(parser.parse_args()))
