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


async def test_notes_are_created_listed_and_read(client: httpx.AsyncClient) -> None:
    created = await client.post("/notes", json={"title": "Groceries", "body": "Eggs"})
    assert created.status_code == 201
    note_id = created.json()["id"]

    listed = await client.get("/notes")
    read = await client.get(f"/notes/{note_id}")
    stats = await client.get("/stats")

    assert [n["title"] for n in listed.json()] == ["Groceries"]
    assert read.json()["body"] == "Eggs"
    assert stats.json() == {"notes": 1}


async def test_missing_note_is_a_typed_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes/999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "note_not_found"
    assert response.json()["detail"] == "Note 999 does not exist."


async def test_duplicate_title_is_a_409_problem(client: httpx.AsyncClient) -> None:
    await client.post("/notes", json={"title": "Once", "body": ""})
    response = await client.post("/notes", json={"title": "Once", "body": "again"})

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_title"


async def test_bad_paging_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes?limit=1000")

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/query/limit"
