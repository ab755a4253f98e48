"""Each pytest-xdist worker's own test database, as the URL fixture derives it."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from fastapi_pro.testing._database import worker_database


@pytest.mark.parametrize(
    ("configured", "worker", "expected"),
    [
        ("sqlite:////data/test.db", None, "sqlite+aiosqlite:////data/test.db"),
        ("sqlite:////data/test.db", "gw1", "sqlite+aiosqlite:////data/test_gw1.db"),
        ("sqlite+aiosqlite:///:memory:", "gw1", "sqlite+aiosqlite:///:memory:"),
        ("sqlite+aiosqlite://", "gw1", "sqlite+aiosqlite://"),
        ("postgresql://u@db/test", None, "postgresql+asyncpg://u@db/test"),
    ],
)
async def test_a_worker_gets_a_database_of_its_own_where_the_backend_needs_one(
    configured: str, worker: str | None, expected: str
) -> None:
    async with worker_database(configured, worker) as url:
        assert url == make_url(expected)
