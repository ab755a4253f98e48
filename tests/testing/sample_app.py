"""A small service for the plugin's tests; also copied into generated sample projects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Security
from loguru import logger
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings
from fastapi_pro.auth import (
    Auth,
    CurrentUser,
    Key,
    KeyRing,
    Principal,
    Tokens,
    require_roles,
    require_scopes,
)
from fastapi_pro.db import Base, BigIntPrimaryKey, Database, SessionDep
from fastapi_pro.errors import NotFoundError, install_error_handlers
from fastapi_pro.observability import Metrics, configure_tracing, install_observability
from fastapi_pro.ratelimit import RateLimit, RateLimiter

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


class Row(BigIntPrimaryKey, Base):
    __tablename__ = "plugin_rows"

    owner: Mapped[str] = mapped_column(String(50))


@dataclass(frozen=True)
class User:
    id: str


async def load_user(principal: Principal) -> User | None:
    return None if principal.subject == "ghost" else User(principal.subject)


async def active_user(user: CurrentUser[User]) -> User:
    """FastAPI's tutorial shape: a dependency on the user, given scopes by its callers."""
    return user


def create_app(database_url: str | None = None, *, operation_spans: bool = False) -> FastAPI:
    database = (
        Database(database_url) if database_url else Database.from_settings(Settings().database)
    )
    app = FastAPI(lifespan=database.lifespan)
    install_error_handlers(app)
    install_observability(
        app,
        metrics=Metrics(),
        tracer_provider=configure_tracing(service_name="sample"),
        operation_spans=operation_spans,
    )
    Auth(Tokens(KeyRing(Key.hmac(SECRET))), user_loader=load_user).install(app)
    RateLimiter().install(app)

    @app.get("/limited", dependencies=[Depends(RateLimit("2/minute"))])
    async def limited() -> dict[str, bool]:
        return {"limited": True}

    @app.post("/rows/{owner}", status_code=201)
    async def add_row(owner: str, session: SessionDep) -> dict[str, int]:
        row = Row(owner=owner)
        session.add(row)
        await session.flush()
        logger.info("row added", owner=owner)
        return {"id": row.id}

    @app.get("/rows")
    async def list_rows(session: SessionDep) -> list[str]:
        ids = (await session.scalars(select(Row.id).order_by(Row.id))).all()
        # One statement per row on purpose: the N+1 shape the query guard exists to catch.
        return [(await session.get_one(Row, row_id)).owner for row_id in ids]

    @app.get("/rows/{row_id}")
    async def read_row(row_id: int, session: SessionDep) -> dict[str, str]:
        row = await session.get(Row, row_id)
        if row is None:
            raise NotFoundError(f"Row {row_id} does not exist.")
        return {"owner": row.owner}

    @app.get("/me")
    async def me(user: CurrentUser[User]) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/staff-only")
    async def staff_only(
        user: Annotated[User, Security(active_user, scopes=["role:staff"])],
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/admin", dependencies=[require_roles("admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/reports")
    async def reports(
        principal: Annotated[Principal, require_scopes("reports:read")],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    return app
