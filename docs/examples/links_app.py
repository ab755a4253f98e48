from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import Base, BigIntPrimaryKey, Database, Repository
from fastapi_pro.errors import install_error_handlers


class Post(BigIntPrimaryKey, Base):
    __tablename__ = "posts"

    title: Mapped[str] = mapped_column(String(200))


class Like(Base):  # a link table: the pair is the primary key
    __tablename__ = "likes"

    user_id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )


class LikeRepository(Repository[Like]):
    pass


class PostRepository(Repository[Post]):
    pass


Likes = Annotated[LikeRepository, Depends(LikeRepository.for_request)]
Posts = Annotated[PostRepository, Depends(PostRepository.for_request)]


class PostIn(BaseModel):
    title: str


class Liked(BaseModel):
    created: bool


router = APIRouter()


@router.post("/posts", status_code=201)
async def create_post(body: PostIn, posts: Posts) -> dict[str, int]:
    post = await posts.add(Post(title=body.title))
    return {"id": post.id}


@router.put("/users/{user_id}/likes/{post_id}")
async def like(user_id: int, post_id: int, likes: Likes) -> Liked:
    # One INSERT ... ON CONFLICT DO NOTHING: twenty identical requests at once make one row.
    row = await likes.add_if_absent({"user_id": user_id, "post_id": post_id})
    return Liked(created=row is not None)


@router.delete("/users/{user_id}/likes/{post_id}", status_code=204)
async def unlike(user_id: int, post_id: int, likes: Likes) -> None:
    await likes.delete_many(user_id=user_id, post_id=post_id)  # idempotent


@router.delete("/posts/{post_id}", status_code=204)
async def delete_post(post_id: int, posts: Posts) -> None:
    post = await posts.get(post_id)
    # If another request deleted it meanwhile, this is a 404 problem, not a silent 204.
    await posts.delete(post)


def create_app(url: str = "sqlite+aiosqlite:///./posts.db") -> FastAPI:
    db = Database(url)
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app


app = create_app()
