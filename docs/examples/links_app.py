from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import Base, BigIntPrimaryKey, Database, Repository
from fastapi_pro.errors import install_error_handlers


class Article(BigIntPrimaryKey, Base):
    __tablename__ = "articles"

    title: Mapped[str] = mapped_column(String(200))


class Favorite(Base):  # a link table: the pair is the primary key
    __tablename__ = "favorites"

    user_id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )


class FavoriteRepository(Repository[Favorite]):
    pass


class ArticleRepository(Repository[Article]):
    pass


Favorites = Annotated[FavoriteRepository, Depends()]
Articles = Annotated[ArticleRepository, Depends()]


class ArticleIn(BaseModel):
    title: str


class Favorited(BaseModel):
    created: bool


router = APIRouter()


@router.post("/articles", status_code=201)
async def create_article(body: ArticleIn, articles: Articles) -> dict[str, int]:
    article = await articles.add(Article(title=body.title))
    return {"id": article.id}


@router.put("/users/{user_id}/favorites/{article_id}")
async def favorite(user_id: int, article_id: int, favorites: Favorites) -> Favorited:
    # One INSERT ... ON CONFLICT DO NOTHING: twenty identical requests at once make one row.
    row = await favorites.add_if_absent({"user_id": user_id, "article_id": article_id})
    return Favorited(created=row is not None)


@router.delete("/users/{user_id}/favorites/{article_id}", status_code=204)
async def unfavorite(user_id: int, article_id: int, favorites: Favorites) -> None:
    await favorites.delete_many(user_id=user_id, article_id=article_id)  # idempotent


@router.delete("/articles/{article_id}", status_code=204)
async def delete_article(article_id: int, articles: Articles) -> None:
    article = await articles.get(article_id)
    # If another request deleted it meanwhile, this is a 404 problem, not a silent 204.
    await articles.delete(article)


def create_app(url: str = "sqlite+aiosqlite:///./articles.db") -> FastAPI:
    db = Database(url)
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app


app = create_app()
