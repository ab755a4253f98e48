"""Pages of rows: an entity with computed and joined columns, in one statement per page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import Select, exists, func, literal_column, select
from sqlalchemy.orm import aliased

from fastapi_pro.db import (
    CursorPage,
    CursorParams,
    Database,
    Page,
    PageParams,
    PageParamsDep,
    SortField,
    cursor_params,
    paginate,
    paginate_cursor,
    sort_params,
)
from fastapi_pro.errors import install_error_handlers
from tests.db.conftest import StatementLog
from tests.db.models import Article, ArticleRepository, Author, Favorite, Follow
from tests.db.test_pagination import tamper

# Who favourited each article (by author index); the counts tie, so the primary key decides.
FAVORITED_BY = [[1, 2, 3], [0], [], [0, 2], [3], [0, 1, 2], [], [1, 3], [2], []]
COUNTS = [len(f) for f in FAVORITED_BY]
NAMES = ["alice", "bob", "carol", "dave"]
ME = 0  # alice, who follows bob


class ProfileOut(BaseModel):
    username: str
    bio: str


class ArticleOut(BaseModel):
    slug: str
    title: str
    favorites_count: int
    favorited: bool
    author_followed: bool
    author: ProfileOut


class Seeded(BaseModel):
    authors: list[int]
    articles: list[int]


async def seed(db: Database) -> Seeded:
    async with db.session() as session:
        authors = [Author(username=name, bio=f"{name}'s bio") for name in NAMES]
        session.add_all(authors)
        await session.flush()
        articles = [
            Article(slug=f"a-{i}", title=f"Title {i}", author_id=authors[i % 4].id)
            for i in range(len(FAVORITED_BY))
        ]
        session.add_all(articles)
        await session.flush()
        session.add_all(
            Favorite(article_id=articles[i].id, author_id=authors[a].id)
            for i, fans in enumerate(FAVORITED_BY)
            for a in fans
        )
        session.add(Follow(follower_id=authors[ME].id, followed_id=authors[1].id))
        return Seeded(authors=[a.id for a in authors], articles=[a.id for a in articles])


def feed(repo: ArticleRepository, me: int) -> tuple[Select[Any], dict[str, Any]]:
    """The feed's select: each article, its favourites, two flags for ``me``, its author."""
    author = aliased(Author, name="author")
    favorites_count = (
        select(func.count())
        .where(Favorite.article_id == Article.id)
        .scalar_subquery()
        .label("favorites_count")
    )
    favorited = (
        exists()
        .where(Favorite.article_id == Article.id, Favorite.author_id == me)
        .label("favorited")
    )
    followed = (
        exists()
        .where(Follow.follower_id == me, Follow.followed_id == author.id)
        .label("author_followed")
    )
    statement = (
        repo.select()
        .join(author, Article.author_id == author.id)
        .add_columns(favorites_count, favorited, followed, author)
    )
    return statement, {"author": author.username}


def expected(i: int) -> dict[str, Any]:
    name = NAMES[i % 4]
    return {
        "slug": f"a-{i}",
        "title": f"Title {i}",
        "favorites_count": COUNTS[i],
        "favorited": ME in FAVORITED_BY[i],
        "author_followed": i % 4 == 1,
        "author": {"username": name, "bio": f"{name}'s bio"},
    }


def by_count(ids: list[int], *, descending_ids: bool) -> list[int]:
    """Article indexes by favourites, most first, ties broken by primary key."""
    sign = -1 if descending_ids else 1
    return sorted(range(len(ids)), key=lambda i: (-COUNTS[i], sign * ids[i]))


async def test_a_feed_page_is_one_statement_of_rows_mapped_into_a_schema(
    db: Database, sql: StatementLog
) -> None:
    seeded = await seed(db)
    me = seeded.authors[ME]
    sql.clear()
    async with db.sessionmaker() as session:
        repo = ArticleRepository(session)
        statement, sortable = feed(repo, me)
        page = await repo.page(
            PageParams(limit=4, offset=2),
            statement=statement,
            sortable=sortable,
            sort=[SortField("favorites_count", descending=True)],
            into=ArticleOut,
        )

    assert sql.count == 1
    order = by_count(seeded.articles, descending_ids=False)
    assert [item.model_dump() for item in page.items] == [expected(i) for i in order[2:6]]
    assert (page.total, page.has_next) == (10, True)


async def test_keyset_pages_walk_a_computed_count_one_statement_each(
    db: Database, sql: StatementLog
) -> None:
    seeded = await seed(db)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    async with db.sessionmaker() as session:
        repo = ArticleRepository(session)
        statement, sortable = feed(repo, seeded.authors[ME])
        while pages == 0 or cursor:
            sql.clear()
            page = await repo.cursor_page(
                CursorParams(cursor=cursor, limit=3),
                statement=statement,
                sortable=sortable,
                sort=[SortField("favorites_count", descending=True)],
                into=ArticleOut,
            )
            assert sql.count == 1
            seen.extend(item.slug for item in page.items)
            cursor, pages = page.next_cursor, pages + 1

    assert pages == 4
    assert seen == [f"a-{i}" for i in by_count(seeded.articles, descending_ids=True)]


async def test_keyset_pages_walk_a_joined_column(db: Database) -> None:
    seeded = await seed(db)
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    async with db.sessionmaker() as session:
        repo = ArticleRepository(session)
        statement, sortable = feed(repo, seeded.authors[ME])
        for _ in range(10):
            page = await repo.cursor_page(
                CursorParams(cursor=cursor, limit=4),
                statement=statement,
                sortable=sortable,
                sort=[SortField("author")],
                into=ArticleOut,
            )
            seen.extend((item.author.username, item.slug) for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break

    order = sorted(range(10), key=lambda i: (NAMES[i % 4], seeded.articles[i]))
    assert seen == [(NAMES[i % 4], f"a-{i}") for i in order]


async def test_keyset_pages_over_an_aggregate_of_a_grouped_select(db: Database) -> None:
    seeded = await seed(db)
    favorites = func.count(Favorite.author_id).label("favorites")
    statement = (
        select(Article, favorites)
        .outerjoin(Favorite, Favorite.article_id == Article.id)
        .group_by(Article.id)
    )
    order: list[tuple[Any, bool]] = [(favorites, True), (Article.id, True)]
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    async with db.sessionmaker() as session:
        for _ in range(10):
            page = await paginate_cursor(
                session, statement, CursorParams(cursor=cursor, limit=3), order=order
            )
            seen.extend((row["Article"].slug, row["favorites"]) for row in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        counted = await paginate(
            session, statement.order_by(favorites.desc(), Article.id), PageParams(limit=3)
        )

    assert seen == [(f"a-{i}", COUNTS[i]) for i in by_count(seeded.articles, descending_ids=True)]
    assert counted.total == 10
    assert [row["favorites"] for row in counted.items] == [3, 3, 2]


async def test_rows_without_a_schema_are_dicts_keyed_by_label(db: Database) -> None:
    await seed(db)
    favorites = (
        select(func.count()).where(Favorite.article_id == Article.id).scalar_subquery().label("n")
    )
    statement = select(Article.slug, favorites).order_by(Article.slug)
    async with db.sessionmaker() as session:
        page = await paginate(session, statement, PageParams(limit=2))

    assert page.items == [{"slug": "a-0", "n": 3}, {"slug": "a-1", "n": 1}]
    assert page.total == 10


async def test_a_repository_page_of_several_columns_needs_a_schema(db: Database) -> None:
    async with db.sessionmaker() as session:
        repo = ArticleRepository(session)
        with pytest.raises(TypeError, match="into="):
            await repo.page(PageParams(), columns=[Article.title.label("t")])
        with pytest.raises(ValueError, match="sortable="):
            await repo.page(PageParams(), sort=[SortField("popularity")])


async def test_a_null_keyset_value_is_refused_with_the_fix(db: Database) -> None:
    seeded = await seed(db)
    unloved = Article.id.in_([seeded.articles[i] for i in range(10) if not FAVORITED_BY[i]])
    last_fan = (
        select(func.max(Favorite.author_id))
        .where(Favorite.article_id == Article.id)
        .scalar_subquery()
        .label("last_fan")
    )
    sort = [SortField("last_fan")]
    async with db.sessionmaker() as session:
        repo = ArticleRepository(session)
        with pytest.raises(ValueError, match="coalesce"):
            await repo.cursor_page(
                CursorParams(limit=2), unloved, columns=[last_fan], sort=sort, into=Seen
            )
        fixed = func.coalesce(last_fan.element, 0).label("last_fan")
        page = await repo.cursor_page(
            CursorParams(limit=2), unloved, columns=[fixed], sort=sort, into=Seen
        )

    assert [item.slug for item in page.items] == ["a-2", "a-6"]
    assert page.next_cursor is not None


class Seen(BaseModel):
    slug: str


FeedSort = Annotated[
    list[SortField],
    Depends(sort_params("favorites_count", "title", "author", default="-favorites_count")),
]
Cursor = Annotated[CursorParams, Depends(cursor_params(max_limit=50))]
Articles = Annotated[ArticleRepository, Depends()]


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.get("/articles")
    async def articles(
        repo: Articles, page: PageParamsDep, sort: FeedSort, me: int
    ) -> Page[ArticleOut]:
        statement, sortable = feed(repo, me)
        return await repo.page(
            page, statement=statement, sortable=sortable, sort=sort, into=ArticleOut
        )

    @app.get("/feed")
    async def feed_page(
        repo: Articles, cursor: Cursor, sort: FeedSort, me: int
    ) -> CursorPage[ArticleOut]:
        statement, sortable = feed(repo, me)
        return await repo.cursor_page(
            cursor, statement=statement, sortable=sortable, sort=sort, into=ArticleOut
        )

    return app


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(make_app(db)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_a_route_serves_the_feed_as_json(
    client: httpx.AsyncClient, db: Database, sql: StatementLog
) -> None:
    seeded = await seed(db)
    me = seeded.authors[ME]
    sql.clear()
    page = await client.get("/articles", params={"me": me, "limit": 3})
    assert sql.count == 1
    first = await client.get("/feed", params={"me": me, "limit": 3})
    after = await client.get(
        "/feed", params={"me": me, "limit": 3, "cursor": first.json()["next_cursor"]}
    )

    offset_order = by_count(seeded.articles, descending_ids=False)
    keyset_order = by_count(seeded.articles, descending_ids=True)
    assert page.json() == {
        "items": [expected(i) for i in offset_order[:3]],
        "total": 10,
        "limit": 3,
        "offset": 0,
        "has_next": True,
    }
    assert first.json()["items"] == [expected(i) for i in keyset_order[:3]]
    assert after.json()["items"] == [expected(i) for i in keyset_order[3:6]]
    assert after.json()["has_next"] is True


async def test_the_feed_refuses_bad_sorts_and_cursors(
    client: httpx.AsyncClient, db: Database
) -> None:
    me = (await seed(db)).authors[ME]
    cursor = (await client.get("/feed", params={"me": me, "limit": 2})).json()["next_cursor"]

    unknown = await client.get("/articles", params={"me": me, "sort": "-favourites"})
    tampered = await client.get("/feed", params={"me": me, "cursor": tamper(cursor)})
    other_sort = await client.get("/feed", params={"me": me, "cursor": cursor, "sort": "title"})

    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_sort")
    assert unknown.json()["allowed"] == ["favorites_count", "title", "author"]
    assert (tampered.status_code, tampered.json()["code"]) == (400, "invalid_cursor")
    assert (other_sort.status_code, other_sort.json()["code"]) == (400, "invalid_cursor")


async def test_a_keyset_column_without_a_python_type_is_refused_on_the_first_page(
    db: Database,
) -> None:
    untyped = literal_column("1").label("one")
    async with db.sessionmaker() as session:
        with pytest.raises(TypeError, match="type_coerce"):
            await ArticleRepository(session).cursor_page(
                CursorParams(), columns=[untyped], sort=[SortField("one")], into=Seen
            )
