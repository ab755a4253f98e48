from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from examples.notes.app import create_app
from fastapi_pro import Settings
from fastapi_pro.settings import DatabaseSettings


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}")
    app = create_app(Settings(database=DatabaseSettings(url=url)))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_notes_are_created_listed_read_and_deleted(client: httpx.AsyncClient) -> None:
    first = await client.post("/notes", json={"title": "Groceries", "body": "Eggs"})
    await client.post("/notes", json={"title": "Books", "body": "Dune"})
    assert first.status_code == 201
    note_id = first.json()["id"]

    listed = (await client.get("/notes?sort=title")).json()
    read = await client.get(f"/notes/{note_id}")
    deleted = await client.delete(f"/notes/{note_id}")
    after = (await client.get("/notes")).json()

    assert [n["title"] for n in listed["items"]] == ["Books", "Groceries"]
    assert listed["total"] == 2
    assert read.json()["body"] == "Eggs"
    assert deleted.status_code == 204
    assert after["total"] == 1


async def test_missing_note_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes/999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Note 999 does not exist."


async def test_duplicate_title_is_a_409_problem(client: httpx.AsyncClient) -> None:
    await client.post("/notes", json={"title": "Once", "body": ""})
    response = await client.post("/notes", json={"title": "Once", "body": "again"})

    assert response.status_code == 409
    assert response.json()["code"] == "unique_violation"
    assert response.json()["fields"] == ["title"]


async def test_bad_paging_and_sorting_are_problems(client: httpx.AsyncClient) -> None:
    too_many = await client.get("/notes?limit=1000")
    bad_sort = await client.get("/notes?sort=body")

    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["pointer"] == "#/query/limit"
    assert bad_sort.status_code == 400
    assert bad_sort.json()["allowed"] == ["created_at", "title"]
