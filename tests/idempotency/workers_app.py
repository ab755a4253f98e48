"""The orders app of the idempotency tests, for ``uvicorn --workers 2 --factory``.

Its database is ``FASTAPI_PRO_DATABASE__URL``; the test creates the tables first.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from fastapi_pro.db import Database
from fastapi_pro.settings import Settings
from tests.idempotency.app import build


def create() -> FastAPI:
    """The app, with ``/pid`` naming the worker process that serves a connection."""
    app = build(Database.from_settings(Settings().database))

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app
