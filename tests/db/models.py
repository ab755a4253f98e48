from __future__ import annotations

import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, MetaData, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fastapi_pro.db import (
    NAMING_CONVENTION,
    Base,
    BigIntPrimaryKey,
    Repository,
    SoftDelete,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
)


class Model(Base):
    """The tests' own tables, apart from those of the docs examples."""

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Category(BigIntPrimaryKey, Model):
    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Module-qualified: other test modules map a "Product" on the same declarative registry.
    products: Mapped[list[Product]] = relationship(
        "tests.db.models.Product", lazy="raise", viewonly=True
    )


class Stage(enum.Enum):
    draft = "draft"
    live = "live"


class Product(UUIDPrimaryKey, Timestamps, SoftDelete, Versioned, Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        UniqueConstraint("vendor", "code"),
    )

    sku: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[int]
    vendor: Mapped[str] = mapped_column(String(50), default="acme")
    code: Mapped[str | None] = mapped_column(String(50), default=None)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), default=None)
    category: Mapped[Category | None] = relationship(lazy="raise")
    featured: Mapped[bool] = mapped_column(default=False)
    stage: Mapped[Stage] = mapped_column(default=Stage.draft)


class Event(BigIntPrimaryKey, Model):
    """A plain table: no soft delete, no version."""

    __tablename__ = "events"

    kind: Mapped[str] = mapped_column(String(50))
    ref: Mapped[uuid.UUID | None] = mapped_column(default=None)


class Author(BigIntPrimaryKey, Model):
    __tablename__ = "authors"

    username: Mapped[str] = mapped_column(String(50), unique=True)
    bio: Mapped[str] = mapped_column(String(200), default="")


class Article(BigIntPrimaryKey, Model):
    __tablename__ = "articles"

    slug: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


class Favorite(Model):
    __tablename__ = "favorites"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)


class Follow(Model):
    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)


class Subscription(Model):
    """A link table: its primary key is the pair."""

    __tablename__ = "subscriptions"

    follower: Mapped[str] = mapped_column(String(50), primary_key=True)
    followed: Mapped[str] = mapped_column(String(50), primary_key=True)


class Like(BigIntPrimaryKey, SoftDelete, Model):
    """A soft-deleted link row with a surrogate key and no version."""

    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("user", "product"),)

    user: Mapped[str] = mapped_column(String(50))
    product: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(String(50), default="")


class Playlist(BigIntPrimaryKey, Model):
    """A parent whose delete cascades in the ORM, not in the database."""

    __tablename__ = "playlists"

    name: Mapped[str] = mapped_column(String(50))
    tracks: Mapped[list[Track]] = relationship(
        "tests.db.models.Track", cascade="all, delete-orphan"
    )


class Track(BigIntPrimaryKey, Model):
    __tablename__ = "tracks"

    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id"))
    title: Mapped[str] = mapped_column(String(50))


class ProductRepository(Repository[Product]):
    pass


class CategoryRepository(Repository[Category]):
    pass


class EventRepository(Repository[Event]):
    pass


class ArticleRepository(Repository[Article]):
    pass


class SubscriptionRepository(Repository[Subscription]):
    pass


class LikeRepository(Repository[Like]):
    pass


class PlaylistRepository(Repository[Playlist]):
    pass
