"""Registration and password checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Self, cast

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from examples.orders.modules.bounds import MAX_ID
from examples.orders.modules.users.models import Role, User
from examples.orders.modules.users.repository import UserRepository
from examples.orders.modules.users.schemas import UserCreate
from fastapi_pro.auth import PasswordHasher, Principal, PrincipalReloader, UserLoader
from fastapi_pro.db import Database, UniqueViolationError
from fastapi_pro.errors import ConflictError

HASHER_STATE_KEY = "password_hasher"


class EmailTakenError(ConflictError):
    """Another account already uses this email address (409)."""

    code = "email_taken"
    title = "Email already registered"


def password_hasher(connection: HTTPConnection) -> PasswordHasher:
    """The app's `PasswordHasher`, set on ``app.state`` by ``create_app``."""
    return cast("PasswordHasher", getattr(connection.app.state, HASHER_STATE_KEY))


HasherDep = Annotated[PasswordHasher, Depends(password_hasher)]


def principal_for(user: User) -> Principal:
    """The identity tokens are issued for: the user's id as subject, its role as a role."""
    return Principal(subject=str(user.id), roles=frozenset({user.role.value}))


class UserService:
    """Accounts: create them and check their passwords."""

    def __init__(self, users: UserRepository, hasher: PasswordHasher) -> None:
        self.users = users
        self.hasher = hasher

    @classmethod
    async def for_request(
        cls,
        users: Annotated[UserRepository, Depends(UserRepository.for_request)],
        hasher: HasherDep,
    ) -> Self:
        """The service on the request's session (a coroutine: FastAPI awaits it in place)."""
        return cls(users, hasher)

    async def register(self, data: UserCreate, *, role: Role = Role.CUSTOMER) -> User:
        """Create an account with a hashed password.

        Raises:
            EmailTakenError: When the email address is registered already.
        """
        password_hash = await self.hasher.hash(data.password.get_secret_value())
        user = User(email=data.email, password_hash=password_hash, role=role)
        try:
            return await self.users.add(user)
        except UniqueViolationError as error:  # the unique index decides, so no race is possible
            detail = "An account with this email address already exists; sign in instead."
            raise EmailTakenError(detail, extensions={"fields": ["email"]}) from error

    async def authenticate(self, email: str, password: str) -> User | None:
        """Return the account when the password matches, else ``None``.

        An unknown email costs as much time as a wrong password, so timing does not reveal which
        accounts exist; a hash made with outdated parameters is replaced on the way.
        """
        user = await self.users.by_email(email)
        if user is None:
            await self.hasher.verify_dummy(password)
            return None
        valid, new_hash = await self.hasher.verify_and_update(password, user.password_hash)
        if not valid:
            return None
        if new_hash is not None:
            await self.users.update(user, {"password_hash": new_hash})
        return user

    async def load(self, principal: Principal) -> User | None:
        """Return the account a verified token speaks for, or ``None`` when it is gone."""
        subject = principal.subject  # signed by us, but checked like input all the same
        if not (subject.isascii() and subject.isdigit() and len(subject) <= len(str(MAX_ID))):
            return None
        user_id = int(subject)
        return await self.users.get_or_none(user_id) if 1 <= user_id <= MAX_ID else None


def user_loader(hasher: PasswordHasher) -> UserLoader:
    """The loader behind ``CurrentUser[User]``: the token's subject is the user's id.

    It reads the account in the request's own session, so a signed-in request uses one
    connection, and an endpoint's changes to ``user`` are committed with the rest of its work.
    """

    async def load_user(principal: Principal, session: AsyncSession) -> User | None:
        return await UserService(UserRepository(session), hasher).load(principal)

    return load_user


def reload_principal(database: Database, hasher: PasswordHasher) -> PrincipalReloader:
    """The check behind every token refresh: the account's current role, or ``None`` if gone.

    A staff member moved back to customer loses the staff role at the next refresh.
    """

    async def reload(principal: Principal) -> Principal | None:
        async with database.session() as session:
            user = await UserService(UserRepository(session), hasher).load(principal)
        return None if user is None else principal_for(user)

    return reload


def password_login(
    database: Database, hasher: PasswordHasher
) -> Callable[[str, str], Awaitable[Principal | None]]:
    """The credential check of ``POST /auth/token``: email as username, then the password."""

    async def authenticate(username: str, password: str) -> Principal | None:
        async with database.session() as session:
            user = await UserService(UserRepository(session), hasher).authenticate(
                username, password
            )
        return None if user is None else principal_for(user)

    return authenticate
