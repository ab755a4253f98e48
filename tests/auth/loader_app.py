"""An app whose user loader reads accounts in the request's own session, wired both ways."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import MetaData, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import Auth, CurrentUser, Key, KeyRing, OptionalUser, Principal, Tokens
from fastapi_pro.db import Database, SessionDep
from fastapi_pro.errors import ConflictError, install_error_handlers

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


class Model(DeclarativeBase):
    metadata = MetaData()


class Account(Model):
    __tablename__ = "loader_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


async def load_account(principal: Principal, session: AsyncSession) -> Account | None:
    return await session.get(Account, int(principal.subject))


class Rename(BaseModel):
    name: str


# Declared before any Auth exists, as a module-level router is.
router = APIRouter()
AccountDep = CurrentUser[Account]


@router.get("/accounts")
async def list_accounts(session: SessionDep) -> list[str]:
    return list((await session.scalars(select(Account.name).order_by(Account.id))).all())


@router.get("/me/accounts")
async def my_accounts(user: AccountDep, session: SessionDep) -> dict[str, Any]:
    names = (await session.scalars(select(Account.name).order_by(Account.id))).all()
    return {"me": user.name, "names": list(names), "same_session": user in session}


@router.get("/me/session-first")
async def session_first(session: SessionDep, user: AccountDep) -> dict[str, Any]:
    return {"me": user.name, "same_session": user in session}


@router.patch("/me")
async def rename(body: Rename, user: AccountDep) -> dict[str, str]:
    user.name = body.name  # no SessionDep here: the loader's unit of work commits it
    return {"name": user.name}


@router.patch("/me/then-fail")
async def rename_then_fail(body: Rename, user: AccountDep, session: SessionDep) -> None:
    user.name = body.name
    await session.flush()
    raise ConflictError("Refused after the change.")


@router.get("/maybe")
async def maybe(user: OptionalUser[Account]) -> dict[str, str | None]:
    return {"me": None if user is None else user.name}


async def touch(session: SessionDep) -> None:
    await session.execute(select(1))  # holds the request's connection before the user loads


@router.get("/busy", dependencies=[Depends(touch)])
async def busy(user: AccountDep, session: SessionDep) -> dict[str, str]:
    await session.execute(select(Account.id).limit(1))
    return {"me": user.name}


def hand_wired(database: Database, loader: Any = load_account) -> FastAPI:
    """The wiring without `setup`: the Auth opens sessions through the database."""
    app = FastAPI(lifespan=database.lifespan)
    install_error_handlers(app)
    tokens = Tokens(KeyRing(Key.hmac(SECRET)))
    auth = Auth(tokens, user_loader=loader, request_session=database.request_session)
    auth.install(app)
    app.include_router(router)
    return app


def with_setup(database: Database) -> FastAPI:
    """The README's wiring: ``setup(app, settings, user_loader=load_user)``."""
    app = FastAPI()
    settings = Settings(_env_file=None, auth={"secret_key": SECRET})  # type: ignore[call-arg]
    setup(app, settings, database=database, user_loader=load_account, logging=False)
    app.include_router(router)
    return app


def bearer(subject: str) -> dict[str, str]:
    token = Tokens(KeyRing(Key.hmac(SECRET))).issue(subject)
    return {"Authorization": f"Bearer {token}"}
