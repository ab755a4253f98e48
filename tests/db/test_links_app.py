"""The link-table example of docs/db.md, under concurrent requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fastapi_pro.db import Database
from tests.servers import in_process

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "links_app.py"


def example() -> ModuleType:
    """The example module, loaded once: its models can be mapped only once per process."""
    module = sys.modules.get("links_app")
    if module is None:
        spec = importlib.util.spec_from_file_location("links_app", EXAMPLE)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["links_app"] = module  # SQLAlchemy resolves annotations through it
        spec.loader.exec_module(module)
    return module


@pytest.fixture
async def app(database_url: str) -> FastAPI:
    links = example()
    tables = [links.Post.__table__, links.Like.__table__]
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: links.Base.metadata.drop_all(sync, tables=tables))
        await connection.run_sync(lambda sync: links.Base.metadata.create_all(sync, tables=tables))
    await db.dispose()
    created: FastAPI = links.create_app(database_url)
    return created


async def favorites_in(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.session() as session:
            likes = select(func.count()).select_from(example().Like)
            return int((await session.execute(likes)).scalar_one())
    finally:
        await db.dispose()


async def test_twenty_identical_favorites_at_once_make_one_row(
    app: FastAPI, database_url: str
) -> None:
    async with in_process(app) as client:
        post = (await client.post("/posts", json={"title": "Links"})).json()
        url = f"/users/7/likes/{post['id']}"

        responses = await asyncio.gather(*(client.put(url) for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    assert [r.json()["created"] for r in responses].count(True) == 1
    assert await favorites_in(database_url) == 1


async def test_favorite_and_unfavorite_are_idempotent(app: FastAPI, database_url: str) -> None:
    async with in_process(app) as client:
        post = (await client.post("/posts", json={"title": "Links"})).json()
        url = f"/users/7/likes/{post['id']}"
        first, again = await client.put(url), await client.put(url)
        removed, removed_again = await client.delete(url), await client.delete(url)
        missing = await client.put("/users/7/likes/999")

    assert (first.json(), again.json()) == ({"created": True}, {"created": False})
    assert (removed.status_code, removed_again.status_code) == (204, 204)
    assert missing.status_code == 409
    assert missing.json()["code"] == "foreign_key_violation"
    assert await favorites_in(database_url) == 0


async def test_deleting_what_another_request_just_deleted_is_a_404(app: FastAPI) -> None:
    loaded, go_on = asyncio.Event(), asyncio.Event()

    class PausedAfterLoading(example().PostRepository):  # type: ignore[misc]
        async def delete(self, target: Any, *, hard: bool = False) -> None:
            if not loaded.is_set():  # the first request waits here, its row already loaded
                loaded.set()
                await go_on.wait()
            await super().delete(target, hard=hard)

    app.dependency_overrides[example().PostRepository.for_request] = PausedAfterLoading.for_request
    async with in_process(app) as client:
        post = (await client.post("/posts", json={"title": "Links"})).json()
        url = f"/posts/{post['id']}"
        first = asyncio.create_task(client.delete(url))
        await asyncio.wait_for(loaded.wait(), 10)  # fails rather than hangs
        second = await client.delete(url)
        go_on.set()
        late = await first

    assert second.status_code == 204
    assert late.status_code == 404
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["code"] == "not_found"
