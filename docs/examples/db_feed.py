from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import ForeignKey, Select, String, exists, func, select
from sqlalchemy.orm import Mapped, aliased, mapped_column

from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    CursorPage,
    CursorParams,
    Database,
    Page,
    PageParamsDep,
    Repository,
    SortField,
    cursor_params,
    sort_params,
)
from fastapi_pro.errors import install_error_handlers


class Author(BigIntPrimaryKey, Base):
    __tablename__ = "authors"

    username: Mapped[str] = mapped_column(String(50), unique=True)


class Article(BigIntPrimaryKey, Base):
    __tablename__ = "articles"

    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


class Favorite(Base):
    __tablename__ = "favorites"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)


class ProfileOut(BaseModel):
    username: str


class ArticleOut(BaseModel):
    slug: str  # from the Article of each row
    title: str
    favorites_count: int  # from the labelled columns
    favorited: bool
    author_followed: bool
    author: ProfileOut  # from the entity aliased "author"


author = aliased(Author, name="author")
favorites_count = select(func.count()).where(Favorite.article_id == Article.id).scalar_subquery()


class ArticleRepository(Repository[Article]):
    def feed(self, me: int) -> Select[Any]:
        """Each article with its favourites, whether ``me`` likes it and follows its author."""
        favorited = exists().where(Favorite.article_id == Article.id, Favorite.author_id == me)
        followed = exists().where(Follow.follower_id == me, Follow.followed_id == author.id)
        return (
            self.select()
            .join(author, Article.author_id == author.id)
            .add_columns(
                favorites_count.label("favorites_count"),
                favorited.label("favorited"),
                followed.label("author_followed"),
                author,
            )
        )


Articles = Annotated[ArticleRepository, Depends()]
ArticleSort = Annotated[
    list[SortField],
    Depends(sort_params("favorites_count", "title", "author", default="-favorites_count")),
]
SORTABLE = {"author": author.username}  # labelled columns sort by their label already
Cursor = Annotated[CursorParams, Depends(cursor_params(max_limit=50))]

db = Database("sqlite+aiosqlite:///./articles.db")
app = FastAPI(lifespan=db.lifespan)
install_error_handlers(app)


@app.get("/articles")
async def list_articles(
    articles: Articles, page: PageParamsDep, sort: ArticleSort, me: int
) -> Page[ArticleOut]:
    statement = articles.feed(me)  # `me` would come from auth in a real service
    return await articles.page(
        page, statement=statement, sortable=SORTABLE, sort=sort, into=ArticleOut
    )


@app.get("/articles/feed")
async def feed(
    articles: Articles, cursor: Cursor, sort: ArticleSort, me: int
) -> CursorPage[ArticleOut]:
    statement = articles.feed(me)
    return await articles.cursor_page(
        cursor, statement=statement, sortable=SORTABLE, sort=sort, into=ArticleOut
    )
