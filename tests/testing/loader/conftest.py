from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI

from fastapi_pro.db import Database
from fastapi_pro.testing import run_app
from tests.auth.loader_app import Model, hand_wired


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_app(fastapi_database_url: str) -> AsyncIterator[FastAPI]:
    """An app whose user loader reads accounts in the request's session."""
    app = hand_wired(Database(fastapi_database_url))
    async with run_app(app, database_url=fastapi_database_url, metadata=Model.metadata):
        yield app
