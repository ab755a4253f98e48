"""`Repository` against hand-written SQLAlchemy, advanced-alchemy and FastCRUD, in one process.

Run: ``uv run --group bench python bench/repository.py [--rounds 15] [--backend both]``.

Targets, on SQLite (aiosqlite, a temporary file) and on PostgreSQL (asyncpg):

- fastapi-pro costs at most 1.15x hand-written SQLAlchemy (median) on every operation;
- it runs as many statements as the hand-written code: get 1, insert 1, update 1, a page with
  its total 1, a bulk insert 1 per 1,000 rows;
- it is faster than advanced-alchemy and FastCRUD on every operation.

Every contender works on the same table through the same engine and pool, and every measured
call opens its own session and closes it at the end, so no call is served from the identity map
of an earlier one. Writes are flushed, never committed: closing the session rolls them back, so
the table keeps its 10,000 rows and every round sees the same data. The hand-written code uses
a plain ``async_sessionmaker``; fastapi-pro uses ``Database.sessionmaker``, as its users do.
Each call starts from the same plain values and builds whatever its API takes (model instances,
Pydantic schemas, dicts) inside the measurement.

The anchors use their documented API, set for the least work that still returns the rows:
advanced-alchemy with ``auto_refresh=False`` (its default re-reads written rows with a SELECT)
and ``get_many_and_count`` (one statement with ``count(*) OVER ()``); FastCRUD with its
``get``, ``get_multi`` (a page and then a count), ``create`` (flush, then a refresh SELECT),
``update`` (a count, then ``UPDATE ... RETURNING``) and, for bulk inserts, ``upsert_multi``
(it has no bulk insert), returning the rows. Hand-written bulk inserts use the ORM bulk
``session.scalars(insert(Item).returning(Item), rows)``, which sends one statement per 1,000
rows, rather than ``add_all`` and a flush through the unit of work.

All four map one model, ``Item`` (``BigIntPrimaryKey``, ``Timestamps``, a name and a price):
advanced-alchemy's repository and FastCRUD take any declarative model, so every contender reads
and writes the same columns through the same types. The engine has no pool pre-ping, whose
round trip per checkout would be the same for everyone. Statements are counted with a
``before_cursor_execute`` listener, leaving out transaction control.

For steadier numbers the process runs on one CPU (``--cpu``), the objects left by setup are
frozen out of the garbage collector before timing, and on PostgreSQL each round starts with a
``VACUUM`` of the table, which the rolled-back writes fill with dead rows. The PostgreSQL server
named by ``--postgres-url`` gets a scratch database, ``fastapi_pro_bench``, created at the start
and dropped at the end; the run skips PostgreSQL when that server does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
from _scratch import recreate_database
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from fastcrud import FastCRUD
from pydantic import BaseModel
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
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
BENCH_DATABASE = "fastapi_pro_bench"
CONTENDERS = ("raw SQLAlchemy", "fastapi-pro", "advanced-alchemy", "FastCRUD")
OPERATIONS = ("get", "page", "insert", "update", "bulk insert")
SLICE = {"get": 10, "page": 5, "insert": 10, "update": 10, "bulk insert": 1}
"""Calls a contender makes before the next one takes its turn."""
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class Item(BigIntPrimaryKey, Timestamps, Base):
    __tablename__ = "bench_items"

    name: Mapped[str]
    price: Mapped[int]


class ItemRepository(Repository[Item]):
    pass


class ItemAARepository(SQLAlchemyAsyncRepository[Item]):
    model_type = Item


class ItemCreate(BaseModel):
    name: str
    price: int


class ItemRead(BaseModel):
    id: int
    name: str
    price: int


ITEM_COLUMNS = [column.key for column in Item.__table__.columns]
item_crud = FastCRUD(Item)


# -- one measured call per contender and operation ---------------------------------------------
# Each takes a session factory and the call's input and returns something to check.

Maker = async_sessionmaker[AsyncSession]


async def raw_get(maker: Maker, id: int) -> Any:
    async with maker() as session:
        item = await session.get(Item, id)
        assert item is not None
        return item


async def raw_page(maker: Maker, offset: int) -> Any:
    async with maker() as session:
        total = select(func.count()).select_from(Item).scalar_subquery()
        statement = select(Item, total).order_by(Item.id).limit(PAGE).offset(offset)
        rows = (await session.execute(statement)).all()
        return [row[0] for row in rows], rows[0][1] if rows else 0


async def raw_insert(maker: Maker, values: dict[str, Any]) -> Any:
    async with maker() as session:
        item = Item(**values)
        session.add(item)
        await session.flush()
        return item


async def raw_update(maker: Maker, change: tuple[int, str]) -> Any:
    id, name = change
    async with maker() as session:
        statement = update(Item).where(Item.id == id).values(name=name).returning(Item)
        return (await session.scalars(statement)).one()


async def raw_bulk(maker: Maker, rows: list[dict[str, Any]]) -> Any:
    async with maker() as session:
        return (await session.scalars(insert(Item).returning(Item), rows)).all()


async def pro_get(maker: Maker, id: int) -> Any:
    async with maker() as session:
        return await ItemRepository(session).get(id)


async def pro_page(maker: Maker, offset: int) -> Any:
    async with maker() as session:
        page = await ItemRepository(session).page(PageParams(limit=PAGE, offset=offset))
        return page.items, page.total


async def pro_insert(maker: Maker, values: dict[str, Any]) -> Any:
    async with maker() as session:
        return await ItemRepository(session).add(Item(**values))


async def pro_update(maker: Maker, change: tuple[int, str]) -> Any:
    id, name = change
    async with maker() as session:
        return await ItemRepository(session).update(id, {"name": name})


async def pro_bulk(maker: Maker, rows: list[dict[str, Any]]) -> Any:
    async with maker() as session:
        return await ItemRepository(session).add_many(rows)  # mappings: the documented fast path


def aa_repository(session: AsyncSession) -> ItemAARepository:
    return ItemAARepository(session=session, auto_refresh=False)


async def aa_get(maker: Maker, id: int) -> Any:
    async with maker() as session:
        return await aa_repository(session).get(id)


async def aa_page(maker: Maker, offset: int) -> Any:
    async with maker() as session:
        return await aa_repository(session).get_many_and_count(
            LimitOffset(limit=PAGE, offset=offset), order_by=(Item.id, False)
        )


async def aa_insert(maker: Maker, values: dict[str, Any]) -> Any:
    async with maker() as session:
        return await aa_repository(session).add(Item(**values))


async def aa_update(maker: Maker, change: tuple[int, str]) -> Any:
    id, name = change
    async with maker() as session:
        return await aa_repository(session).update(Item(id=id, name=name))


async def aa_bulk(maker: Maker, rows: list[dict[str, Any]]) -> Any:
    async with maker() as session:
        return await aa_repository(session).add_many([Item(**row) for row in rows])


async def crud_get(maker: Maker, id: int) -> Any:
    async with maker() as session:
        return await item_crud.get(session, id=id)


async def crud_page(maker: Maker, offset: int) -> Any:
    async with maker() as session:
        page = await item_crud.get_multi(session, offset=offset, limit=PAGE, sort_columns="id")
        return page["data"], page["total_count"]


async def crud_insert(maker: Maker, values: dict[str, Any]) -> Any:
    async with maker() as session:
        return await item_crud.create(
            session, ItemCreate(**values), commit=False, schema_to_select=ItemRead
        )


async def crud_update(maker: Maker, change: tuple[int, str]) -> Any:
    id, name = change
    async with maker() as session:
        return await item_crud.update(
            session, {"name": name}, commit=False, return_columns=ITEM_COLUMNS, id=id
        )


async def crud_bulk(maker: Maker, rows: list[dict[str, Any]]) -> Any:
    async with maker() as session:
        result = await item_crud.upsert_multi(
            session, [ItemCreate(**row) for row in rows], return_columns=ITEM_COLUMNS
        )
        assert result is not None
        return result["data"]


Call = Callable[[Maker, Any], Awaitable[Any]]
CALLS: dict[str, dict[str, Call]] = {
    "raw SQLAlchemy": {
        "get": raw_get,
        "page": raw_page,
        "insert": raw_insert,
        "update": raw_update,
        "bulk insert": raw_bulk,
    },
    "fastapi-pro": {
        "get": pro_get,
        "page": pro_page,
        "insert": pro_insert,
        "update": pro_update,
        "bulk insert": pro_bulk,
    },
    "advanced-alchemy": {
        "get": aa_get,
        "page": aa_page,
        "insert": aa_insert,
        "update": aa_update,
        "bulk insert": aa_bulk,
    },
    "FastCRUD": {
        "get": crud_get,
        "page": crud_page,
        "insert": crud_insert,
        "update": crud_update,
        "bulk insert": crud_bulk,
    },
}


# -- checks: every contender must really have done the work ------------------------------------


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def check(operation: str, result: Any, argument: Any) -> None:
    if operation == "get":
        assert _field(result, "id") == argument
        assert _field(result, "updated_at") is not None
    elif operation == "page":
        items, total = result
        assert total == ROWS, total
        assert [_field(item, "id") for item in items] == list(
            range(argument + 1, argument + PAGE + 1)
        )
    elif operation == "insert":
        assert _field(result, "id") > ROWS
        assert _field(result, "name") == argument["name"]
        assert _field(result, "created_at") is not None
    elif operation == "update":
        assert (_field(result, "id"), _field(result, "name")) == argument
        assert _field(result, "updated_at") is not None
    else:
        assert len(result) == len(argument)
        assert all(_field(row, "id") > ROWS for row in result)
        assert {_field(row, "name") for row in result} == {row["name"] for row in argument}


# -- statement counting --------------------------------------------------------------------------


@dataclass
class StatementCounter:
    count: int = 0
    statements: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            return
        self.count += 1
        self.statements.append(statement)

    @contextlib.contextmanager
    def listening(self, engine: Any) -> Iterator[StatementCounter]:
        self.count, self.statements = 0, []
        event.listen(engine, "before_cursor_execute", self)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """Deterministic per-call inputs, the same sequence for every contender."""

    ids: list[int]
    offsets: list[int]
    new_rows: list[dict[str, Any]]
    changes: list[tuple[int, str]]
    batches: list[list[dict[str, Any]]]

    @classmethod
    def make(cls, seed: int = 7) -> Inputs:
        rng = random.Random(seed)
        return cls(
            ids=[rng.randint(1, ROWS) for _ in range(512)],
            offsets=[rng.randrange(ROWS // 4, 3 * ROWS // 4) for _ in range(64)],
            new_rows=[{"name": f"new-{i}", "price": rng.randint(1, 999)} for i in range(512)],
            changes=[(rng.randint(1, ROWS), f"renamed-{i}") for i in range(512)],
            batches=[
                [{"name": f"bulk-{b}-{i}", "price": rng.randint(1, 999)} for i in range(BULK)]
                for b in range(4)
            ],
        )

    def argument(self, operation: str, index: int) -> Any:
        sequence = {
            "get": self.ids,
            "page": self.offsets,
            "insert": self.new_rows,
            "update": self.changes,
            "bulk insert": self.batches,
        }[operation]
        return sequence[index % len(sequence)]

    def arguments(self, operation: str, round_: int, count: int) -> list[Any]:
        return [self.argument(operation, round_ * count + i) for i in range(count)]


async def seed(db: Database) -> None:
    await db.create_all(Base.metadata)
    rng = random.Random(1)
    rows = [{"name": f"item-{i}", "price": rng.randint(1, 999)} for i in range(1, ROWS + 1)]
    async with db.sessionmaker() as session:
        await session.execute(insert(Item), rows)
        await session.commit()


async def tidy(db: Database) -> None:
    """Clear out the dead rows that rolled-back writes leave in a PostgreSQL table.

    Otherwise the table grows through the run and the reads of later rounds scan more pages.
    """
    if db.dialect == "postgresql":
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"VACUUM ANALYZE {Item.__tablename__}"))


async def time_calls(call: Call, maker: Maker, arguments: list[Any]) -> float:
    """Seconds taken by sequential calls, one per argument."""
    gc.collect()
    begin = time.perf_counter()
    for argument in arguments:
        await call(maker, argument)
    return time.perf_counter() - begin


def session_factory(contender: str, db: Database, plain: Maker) -> Maker:
    return db.sessionmaker if contender == "fastapi-pro" else plain


async def run_backend(
    label: str, url: str, rounds: int, counts: dict[str, int], show_sql: bool
) -> dict[str, dict[str, tuple[float, int]]]:
    db = Database(url, pool_pre_ping=False)
    plain: Maker = async_sessionmaker(db.engine, expire_on_commit=False)
    inputs = Inputs.make()
    try:
        await seed(db)
        counter = StatementCounter()
        statements: dict[tuple[str, str], int] = {}
        for contender, calls in CALLS.items():  # check the work, count statements, warm up
            maker = session_factory(contender, db, plain)
            for operation, call in calls.items():
                argument = inputs.argument(operation, 0)
                with counter.listening(db.engine.sync_engine):
                    check(operation, await call(maker, argument), argument)
                statements[contender, operation] = counter.count
                if show_sql:
                    print(f"\n-- {label}, {contender}, {operation}:")
                    for statement in counter.statements[:3]:
                        print(" ".join(statement.split()))
                for i in range(max(counts[operation] // 5, 2)):
                    check(operation, await call(maker, argument), argument)
                    argument = inputs.argument(operation, i + 1)
        # Freeze what setup left alive: a full collection then scans only what the calls made,
        # instead of landing at random in one contender's batch and costing tens of ms there.
        gc.collect()
        gc.freeze()
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in statements}
        for round_ in range(rounds):
            await tidy(db)
            for operation in OPERATIONS:
                arguments = inputs.arguments(operation, round_, counts[operation])
                spent = dict.fromkeys(CALLS, 0.0)
                # Slices of a few calls, each contender in turn and the first one rotating, so
                # that whatever else the machine does meanwhile falls on all of them alike.
                order = list(CALLS)
                for begin in range(0, len(arguments), SLICE[operation]):
                    part = arguments[begin : begin + SLICE[operation]]
                    for contender in order:
                        maker = session_factory(contender, db, plain)
                        spent[contender] += await time_calls(
                            CALLS[contender][operation], maker, part
                        )
                    order.append(order.pop(0))
                for contender, seconds in spent.items():
                    samples[contender, operation].append(seconds / len(arguments))
        results = {
            contender: {
                operation: (
                    statistics.median(samples[contender, operation]),
                    statements[contender, operation],
                )
                for operation in OPERATIONS
            }
            for contender in CALLS
        }
    finally:
        gc.unfreeze()
        await db.dispose()
    print_table(label, results)
    return results


def print_table(label: str, results: dict[str, dict[str, tuple[float, int]]]) -> None:
    print(f"\n{label}: median µs per call (ratio to raw SQLAlchemy) [SQL statements per call]")
    width = 26
    print(f"{'operation':12}" + "".join(f"{name:>{width}}" for name in CONTENDERS))
    for operation in OPERATIONS:
        base = results["raw SQLAlchemy"][operation][0]
        cells = []
        for contender in CONTENDERS:
            median, statements = results[contender][operation]
            cells.append(f"{median * 1e6:.0f} ({median / base:.2f}x) [{statements}]")
        print(f"{operation:12}" + "".join(f"{cell:>{width}}" for cell in cells))
    misses = []
    for operation in OPERATIONS:
        raw, pro = results["raw SQLAlchemy"][operation], results["fastapi-pro"][operation]
        if pro[0] > 1.15 * raw[0]:
            misses.append(f"{operation}: {pro[0] / raw[0]:.2f}x raw")
        if pro[1] > raw[1]:
            misses.append(f"{operation}: {pro[1]} statements, raw {raw[1]}")
        for anchor in ("advanced-alchemy", "FastCRUD"):
            if pro[0] >= results[anchor][operation][0]:
                misses.append(f"{operation}: not faster than {anchor}")
    print("targets met" if not misses else "targets missed: " + "; ".join(misses))


def pin(cpu: int | None) -> str:
    """Keep this process (event loop and driver threads) on one CPU; return what was done.

    aiosqlite hands every call to a thread: when the scheduler moves that thread between CPUs,
    whole batches come out up to twice as slow, which drowns the differences being measured.
    """
    if not hasattr(os, "sched_setaffinity") or (cpu is not None and cpu < 0):
        return "not pinned to a CPU"
    if cpu is None:
        cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


async def main(
    rounds: int,
    backend: str,
    postgres_url: str,
    *,
    scale: float = 1.0,
    cpu: int | None = None,
    show_sql: bool = False,
) -> None:
    counts = {
        operation: max(int(n * scale), 1)
        for operation, n in {
            "get": 150,
            "page": 60,
            "insert": 100,
            "update": 100,
            "bulk insert": 3,
        }.items()
    }
    packages = ("sqlalchemy", "aiosqlite", "asyncpg", "advanced-alchemy", "fastcrud", "fastapi-pro")
    print(", ".join(f"{name} {version(name)}" for name in packages))
    print(f"{rounds} rounds; calls per round: {counts}; {pin(cpu)}")
    if backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            await run_backend("SQLite (aiosqlite)", url, rounds, counts, show_sql)
    if backend in ("postgres", "both"):
        try:
            url = await recreate_database(postgres_url, BENCH_DATABASE)
        except (OSError, asyncpg.PostgresError) as error:
            print(f"\nPostgreSQL skipped: {postgres_url} did not answer ({error}).")
            return
        try:
            await run_backend("PostgreSQL (asyncpg)", url, rounds, counts, show_sql)
        finally:
            await recreate_database(postgres_url, BENCH_DATABASE, drop_only=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the calls per round by this"
    )
    parser.add_argument(
        "--cpu", type=int, default=None, help="CPU to run on (default: the last one; -1: any)"
    )
    parser.add_argument("--sql", action="store_true", help="print the statements each call sends")
    options = parser.parse_args()
    asyncio.run(
        main(
            options.rounds,
            options.backend,
            options.postgres_url,
            scale=options.scale,
            cpu=options.cpu,
            show_sql=options.sql,
        )
    )
