from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import Base, BigIntPrimaryKey, Repository, Timestamps, UUIDPrimaryKey


class User(BigIntPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)


class Bookmark(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "bookmarks"
    __table_args__ = (UniqueConstraint("owner_id", "url"),)  # uq_bookmarks_owner_id_url

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(200))


class Users(Repository[User]):
    async def by_email(self, email: str) -> User | None:
        return await self.find_one_or_none(email=email)


class Bookmarks(Repository[Bookmark]):
    pass
