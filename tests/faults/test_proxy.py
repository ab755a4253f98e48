"""The fault proxy does what the fault tests rely on, against the real PostgreSQL server."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.postgres


def through(proxy: FaultProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


async def test_forwards_refuses_black_holes_and_recovers(postgres_url: str) -> None:
    upstream = make_url(postgres_url)
    with FaultProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy:
        url = through(proxy, postgres_url)
        connection = await asyncpg.connect(url, timeout=5)
        assert await connection.fetchval("SELECT 1") == 1

        proxy.blackhole()
        with pytest.raises(TimeoutError):
            await connection.fetchval("SELECT 2", timeout=0.5)
        with pytest.raises(TimeoutError):
            await asyncpg.connect(url, timeout=0.5)

        proxy.refuse()
        with pytest.raises(OSError, match=r"refused|Connect call failed"):
            await asyncpg.connect(url, timeout=2)

        proxy.restore()
        fresh = await asyncpg.connect(url, timeout=5)
        assert await fresh.fetchval("SELECT 3") == 3
        await fresh.close()
        await asyncio.wait_for(connection.close(timeout=1), 5)
