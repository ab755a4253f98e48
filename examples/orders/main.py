"""The orders service: users, a product catalogue and orders, wired with ``fastapi_pro.setup``.

Build it with `create_app`; importing this module creates nothing and connects nowhere.
``python -m examples.orders`` seeds a demo database and serves it, or run
``uvicorn --factory examples.orders.main:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from examples.orders.database import complete_metadata
from examples.orders.modules.orders.router import router as orders_router
from examples.orders.modules.products.router import router as products_router
from examples.orders.modules.users.router import router as users_router
from examples.orders.modules.users.service import (
    HASHER_STATE_KEY,
    password_login,
    reload_principal,
    user_loader,
)
from fastapi_pro import Settings, setup
from fastapi_pro.auth import PasswordHasher, password_flow_router
from fastapi_pro.db import Database

TOKEN_URL = "/auth/token"  # noqa: S105 - a path, not a password


def create_app(
    settings: Settings | None = None,
    *,
    password_hasher: PasswordHasher | None = None,
    create_tables: bool = True,
) -> FastAPI:
    """Build the service.

    Args:
        settings: The configuration; ``Settings()`` (``FASTAPI_PRO_*`` variables) by default.
        password_hasher: Hashes passwords; Argon2id with pwdlib's parameters by default. The
            app owns it: its threads are stopped when the app shuts down.
        create_tables: Create the missing tables at start-up. ``False`` when they exist
            already, as in the demo's workers: several processes creating them would race.
    """
    settings = settings if settings is not None else Settings()
    database = Database.from_settings(settings.database)
    hasher = password_hasher or PasswordHasher()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hasher.close()

    app = FastAPI(title="Orders", version="1.0.0", lifespan=lifespan)
    setattr(app.state, HASHER_STATE_KEY, hasher)
    setup(
        app,
        settings,
        database=database,
        user_loader=user_loader(hasher),
        reload_principal=reload_principal(database, hasher),
        # creates missing tables at start-up; use migrations in earnest
        metadata=complete_metadata() if create_tables else None,
        token_url=TOKEN_URL,
    )
    app.include_router(password_flow_router(password_login(database, hasher)))
    app.include_router(users_router)
    app.include_router(products_router)
    app.include_router(orders_router)
    _send_root_to_docs(app)
    return app


def _send_root_to_docs(app: FastAPI) -> None:
    """``GET /`` redirects to the API docs, where a newcomer can try the service."""
    docs_url = app.docs_url
    if docs_url is None:
        return

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(docs_url)
