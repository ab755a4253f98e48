from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest


async def run_sql(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def scratch_database(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (plain URL), dropped afterwards."""
    name = f"fastapi_pro_demo_{uuid.uuid4().hex[:12]}"
    asyncio.run(run_sql(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(run_sql(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
