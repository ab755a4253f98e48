"""The orders service the idempotency tests call over HTTP, on either backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import ForeignKey, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_pro.db import Database, SessionDep
from fastapi_pro.errors import ConflictError, install_error_handlers
from fastapi_pro.idempotency import (
    IdempotencyOptions,
    IdempotentRoute,
    check_idempotent_routes,
    idempotency_table,
    idempotent,
)
from fastapi_pro.observability import install_observability


class Models(DeclarativeBase):
    metadata = MetaData()


class Parent(Models):
    __tablename__ = "idem_test_parents"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class Order(Models):
    __tablename__ = "idem_test_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]
    qty: Mapped[int]
    # Checked at COMMIT, not at INSERT: a missing parent makes the COMMIT itself fail.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey(Parent.id, deferrable=True, initially="DEFERRED")
    )


records = idempotency_table(Models.metadata, "idem_test_records")

FAIL_COMMIT = "X-Fail-Commit"
"""A request header (outside the fingerprint) that makes the order's COMMIT fail."""


class OrderIn(BaseModel):
    item: str
    qty: int


async def _create(order: OrderIn, session: SessionDep, request: Request, response: Response) -> Any:
    parent = 404 if request.headers.get(FAIL_COMMIT) else None
    row = Order(item=order.item, qty=order.qty, parent_id=parent)
    session.add(row)
    await session.flush()
    await asyncio.sleep(0.05)  # keep the transaction open a moment, so duplicates overlap it
    response.headers["Location"] = f"/orders/{row.id}"
    response.headers["X-Not-Kept"] = "volatile"
    return {"id": row.id, "item": order.item, "qty": order.qty}


def build(db: Database) -> FastAPI:
    """The app: keyed orders (optional and required keys, a zero expiry) and a failing route."""
    app = FastAPI(lifespan=db.lifespan)
    app.router.route_class = IdempotentRoute
    install_error_handlers(app)
    install_observability(app, access_log=False)
    expired = IdempotencyOptions(ttl=timedelta(0))
    app.post("/orders", status_code=201, dependencies=[idempotent(records)])(_create)
    app.post("/required", status_code=201, dependencies=[idempotent(records, required=True)])(
        _create
    )
    app.post("/short", status_code=201, dependencies=[idempotent(records, options=expired)])(
        _create
    )

    @app.post("/refused", dependencies=[idempotent(records)])
    async def refused(order: OrderIn, session: SessionDep) -> None:
        session.add(Order(item=order.item, qty=order.qty))
        await session.flush()
        raise ConflictError("Out of stock.")

    app.include_router(_users_router(), prefix="/v1")
    check_idempotent_routes(app)
    return app


async def user_of(request: Request) -> str | None:
    """The caller named by ``X-User``, or anonymous."""
    return request.headers.get("x-user")


def _users_router() -> APIRouter:
    router = APIRouter(route_class=IdempotentRoute)
    per_user = idempotent(records, identify=user_of)
    router.post("/orders", status_code=201, dependencies=[per_user])(_create)
    return router
