"""A unit of work whose COMMIT fails leaves nothing behind on its pooled connection.

SQLite keeps a transaction open after a COMMIT that failed on a deferred constraint, and
SQLAlchemy hands such a connection back to the pool without resetting it: the next unit of
work on it would see the orphan row and fail its own COMMIT again. Every test here runs on a
pool of one connection, so the unit of work after the failure reuses the failed one's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import ForeignKey, MetaData, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_pro.db import Database, ForeignKeyViolationError, SessionDep, UniqueViolationError
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.testing import isolated


class Deferred(DeclarativeBase):
    metadata = MetaData()


class Parent(Deferred):
    __tablename__ = "deferred_parents"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class Child(Deferred):
    __tablename__ = "deferred_children"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # Checked at COMMIT, not at INSERT: the COMMIT itself is what fails.
    parent_id: Mapped[int] = mapped_column(
        ForeignKey(Parent.id, deferrable=True, initially="DEFERRED")
    )


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=5)
    async with database.engine.begin() as connection:
        await connection.run_sync(Deferred.metadata.drop_all)
        await connection.run_sync(Deferred.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
def checkouts(one_connection: Database) -> list[int]:
    """The identity of the DBAPI connection behind every checkout, in order."""
    seen: list[int] = []

    def record(dbapi_connection: Any, *_: Any) -> None:
        seen.append(id(dbapi_connection))

    event.listen(one_connection.engine.sync_engine.pool, "checkout", record)
    return seen


async def rows(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        parents = await session.scalar(select(func.count()).select_from(Parent))
        children = await session.scalar(select(func.count()).select_from(Child))
    return int(parents or 0), int(children or 0)


async def test_a_commit_that_fails_on_a_deferred_foreign_key_raises_and_persists_nothing(
    one_connection: Database,
) -> None:
    with pytest.raises(ForeignKeyViolationError):
        async with one_connection.session() as session:
            session.add(Child(id=1, parent_id=404))

    assert await rows(one_connection) == (0, 0)


async def test_the_next_units_of_work_on_the_same_connection_are_clean(
    one_connection: Database, checkouts: list[int]
) -> None:
    with pytest.raises(ForeignKeyViolationError):
        async with one_connection.session() as session:
            session.add(Child(id=1, parent_id=404))

    for n in range(3):
        async with one_connection.session() as session:
            assert await session.scalar(select(func.count()).select_from(Child)) == 0
            session.add(Parent(id=n))

    assert await rows(one_connection) == (3, 0)
    assert len(set(checkouts)) == 1  # every unit of work ran on the failed one's connection


async def test_a_commit_the_caller_makes_that_fails_leaves_the_connection_clean(
    one_connection: Database, checkouts: list[int]
) -> None:
    with pytest.raises(ForeignKeyViolationError):
        async with one_connection.session() as session:
            session.add(Child(id=1, parent_id=404))
            await session.commit()  # the caller's own COMMIT, inside the unit of work

    async with one_connection.session() as session:
        session.add_all([Parent(id=1), Child(id=1, parent_id=1)])

    assert await rows(one_connection) == (1, 1)
    assert len(set(checkouts)) == 1


async def test_objects_loaded_by_a_failed_unit_of_work_keep_their_values(
    one_connection: Database,
) -> None:
    async with one_connection.session() as session:
        session.add(Parent(id=1))
    with pytest.raises(ForeignKeyViolationError):
        async with one_connection.session() as session:
            parent = await session.get_one(Parent, 1)
            session.add(Child(id=1, parent_id=404))

    assert parent.id == 1  # detached as it was, not expired by the rollback


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.post("/parents/{parent_id}/children/{child_id}", status_code=201)
    async def add_child(parent_id: int, child_id: int, session: SessionDep) -> dict[str, int]:
        session.add(Child(id=child_id, parent_id=parent_id))
        return {"id": child_id}

    @app.post("/parents/{parent_id}", status_code=201)
    async def add_parent(parent_id: int, session: SessionDep) -> dict[str, int]:
        session.add(Parent(id=parent_id))
        return {"id": parent_id}

    @app.get("/children")
    async def count_children(session: SessionDep) -> dict[str, int]:
        count = await session.scalar(select(func.count()).select_from(Child))
        return {"count": int(count or 0)}

    return app


async def test_a_request_whose_commit_fails_leaves_the_next_requests_clean(
    one_connection: Database, checkouts: list[int]
) -> None:
    async with LifespanManager(make_app(one_connection)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            failed = await client.post("/parents/404/children/1")
            later = [(await client.post(f"/parents/{n}")).status_code for n in range(3)]
            children = (await client.get("/children")).json()
        used = set(checkouts)  # the lifespan's end disposes the pool

    assert failed.status_code == 409
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["code"] == "foreign_key_violation"
    assert later == [201, 201, 201]
    assert children == {"count": 0}
    assert await rows(one_connection) == (3, 0)
    assert len(used) == 1


async def test_a_failed_commit_inside_the_test_transaction_keeps_it_usable(
    one_connection: Database,
) -> None:
    async with isolated(one_connection):
        async with one_connection.session() as session:
            session.add(Parent(id=1))
        with pytest.raises(UniqueViolationError):
            async with one_connection.session() as session:
                session.add(Parent(id=1))  # flushed by the commit (a savepoint's release)
        async with one_connection.session() as session:
            session.add(Parent(id=2))
        assert await rows(one_connection) == (2, 0)

    assert await rows(one_connection) == (0, 0)  # the test transaction rolled it all back
