import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from sqlalchemy import String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import (
    CurrentUser,
    PasswordHasher,
    Principal,
    UserLoader,
    password_flow_router,
    require_roles,
)
from fastapi_pro.db import Base, Database, Repository, uuid7

hasher = PasswordHasher()  # Argon2id and bcrypt, as fastapi-users' PasswordHelper


class User(Base):
    """The table fastapi-users created, mapped as it is."""

    __tablename__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    is_verified: Mapped[bool] = mapped_column(default=False)


class Users(Repository[User]):
    async def by_email(self, email: str) -> User | None:
        # fastapi-users finds accounts by email case-insensitively; so does this.
        return await self.find_one_or_none(func.lower(User.email) == email.lower())


def principal_for(user: User) -> Principal:
    return Principal(str(user.id), roles=frozenset({"superuser"} if user.is_superuser else ()))


def user_loader(database: Database) -> UserLoader:
    """What `current_user(active=True)` did: an inactive or deleted account gets a 401."""

    async def load_user(principal: Principal) -> User | None:
        try:
            user_id = uuid.UUID(principal.subject)
        except ValueError:
            return None
        async with database.session() as session:
            user = await Users(session).get_or_none(user_id)
        return user if user is not None and user.is_active else None

    return load_user


def password_login(database: Database) -> Callable[[str, str], Awaitable[Principal | None]]:
    """What `UserManager.authenticate` did, for `POST /auth/token`."""

    async def authenticate(email: str, password: str) -> Principal | None:
        async with database.session() as session:
            users = Users(session)
            user = await users.by_email(email)
            if user is None or not user.is_active:
                await hasher.verify_dummy(password)
                return None
            valid, new_hash = await hasher.verify_and_update(password, user.hashed_password)
            if valid and new_hash is not None:  # a bcrypt hash is replaced by Argon2id
                await users.update(user, {"hashed_password": new_hash})
        return principal_for(user) if valid else None

    return authenticate


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database = Database.from_settings(settings.database)
    app = FastAPI()
    setup(
        app,
        settings,
        database=database,
        user_loader=user_loader(database),
        token_url="/auth/token",  # noqa: S106 - a path, not a password
    )
    app.include_router(password_flow_router(password_login(database)))

    @app.get("/users/me")
    async def me(user: CurrentUser[User]) -> dict[str, str]:
        return {"id": str(user.id), "email": user.email}

    @app.get("/admin/stats", dependencies=[require_roles("superuser")])
    async def stats() -> dict[str, int]:
        return {"users": 0}

    return app
