from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI

from fastapi_pro.db import Base
from fastapi_pro.testing import run_app
from tests.testing.sample_app import create_app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_app(fastapi_database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(fastapi_database_url)
    async with run_app(app, database_url=fastapi_database_url, metadata=Base.metadata):
        yield app
