"""Static checks of the auth aliases: mypy must accept this file."""

from dataclasses import dataclass
from typing import assert_type

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.auth import (
    Auth,
    CurrentPrincipal,
    CurrentUser,
    OptionalPrincipal,
    OptionalUser,
    Principal,
    RequestSession,
    Tokens,
    UserLoader,
)
from fastapi_pro.db import Database


@dataclass
class User:
    name: str


async def route(
    user: CurrentUser[User],
    maybe_user: OptionalUser[User],
    principal: CurrentPrincipal,
    maybe_principal: OptionalPrincipal,
) -> None:
    assert_type(user, User)
    assert_type(maybe_user, User | None)
    assert_type(principal, Principal)
    assert_type(maybe_principal, Principal | None)


async def load_user(principal: Principal) -> User | None:
    return User(principal.subject)


async def load_user_in_session(principal: Principal, session: AsyncSession) -> User | None:
    return await session.get(User, principal.subject)


def wire(database: Database, tokens: Tokens) -> None:
    loaders: list[UserLoader] = [load_user, load_user_in_session]
    session: RequestSession = database.request_session
    for loader in loaders:
        Auth(tokens, user_loader=loader, request_session=session)
