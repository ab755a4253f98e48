from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.auth import PasswordHasher, Principal
from fastapi_pro.db import Database

from bookmarks.models import User, Users

hasher = PasswordHasher()  # Argon2id, hashing in worker threads, never on the event loop


def principal_for(user: User) -> Principal:
    """The identity a token is issued for: the user's id, and the admin role if it has it."""
    return Principal(str(user.id), roles=frozenset({"admin"} if user.is_admin else ()))


async def load_user(principal: Principal, session: AsyncSession) -> User | None:
    """Turns a verified token into a `User`, for `CurrentUser[User]`, in the request's session."""
    if not principal.subject.isdigit():
        return None
    return await Users(session).get_or_none(int(principal.subject))


def password_login(database: Database) -> Callable[[str, str], Awaitable[Principal | None]]:
    """Checks an email and a password, for the token endpoint."""

    async def authenticate(email: str, password: str) -> Principal | None:
        async with database.session() as session:
            users = Users(session)
            user = await users.by_email(email)
            if user is None:
                await hasher.verify_dummy(password)  # as slow as a real check
                return None
            valid, new_hash = await hasher.verify_and_update(password, user.password_hash)
            if valid and new_hash is not None:
                await users.update(user, {"password_hash": new_hash})
        return principal_for(user) if valid else None

    return authenticate
