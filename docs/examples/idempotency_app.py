from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from pydantic import BaseModel
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import Base, Database, SessionDep
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.idempotency import (
    IdempotentRoute,
    check_idempotent_routes,
    idempotency_table,
    idempotent,
)


class ShopOrder(Base):
    __tablename__ = "shop_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]


records = idempotency_table(Base.metadata)  # Alembic sees it beside the models
db = Database("sqlite+aiosqlite:///:memory:")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
    async with db.lifespan(app):
        async with db.engine.begin() as connection:  # a real service runs its migrations
            await connection.run_sync(Base.metadata.create_all)
        yield


app = FastAPI(lifespan=lifespan)
app.router.route_class = IdempotentRoute  # lets the dependency see and replay responses
install_error_handlers(app)


class OrderIn(BaseModel):
    item: str


@app.post("/orders", status_code=201, dependencies=[idempotent(records, required=True)])
async def create_order(order: OrderIn, session: SessionDep, response: Response) -> dict[str, int]:
    row = ShopOrder(item=order.item)
    session.add(row)
    await session.flush()
    response.headers["Location"] = f"/orders/{row.id}"
    return {"id": row.id}


check_idempotent_routes(app)  # a keyed route without IdempotentRoute fails here, not later
