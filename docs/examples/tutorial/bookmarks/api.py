import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import func, select

from fastapi_pro.auth import CurrentUser, require_roles
from fastapi_pro.db import Page, PageParamsDep, SessionDep, SortField, sort_params
from fastapi_pro.errors import NotFoundError, problem_responses

from bookmarks.accounts import hasher
from bookmarks.models import Bookmark, Bookmarks, User, Users


class BookmarkNotFoundError(NotFoundError):
    code = "bookmark_not_found"
    title = "Bookmark not found"


class UserIn(BaseModel):
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: SecretStr = Field(min_length=12)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    is_admin: bool


class BookmarkIn(BaseModel):
    url: str = Field(max_length=2000, pattern=r"^https?://")
    title: str = Field(max_length=200)


class BookmarkOut(BookmarkIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime


Me = CurrentUser[User]
UsersDep = Annotated[Users, Depends(Users.for_request)]
BookmarksDep = Annotated[Bookmarks, Depends(Bookmarks.for_request)]
BookmarkSort = Annotated[
    list[SortField], Depends(sort_params("title", "created_at", default="-created_at"))
]


async def owned_bookmark(bookmark_id: uuid.UUID, me: Me, bookmarks: BookmarksDep) -> Bookmark:
    bookmark = await bookmarks.get_or_none(bookmark_id)
    if bookmark is None or bookmark.owner_id != me.id:  # someone else's: as if it did not exist
        raise BookmarkNotFoundError(f"Bookmark {bookmark_id} does not exist.")
    return bookmark


OwnedBookmark = Annotated[Bookmark, Depends(owned_bookmark)]

router = APIRouter()


@router.post("/users", status_code=201)
async def register(body: UserIn, users: UsersDep) -> UserOut:
    password_hash = await hasher.hash(body.password.get_secret_value())
    user = await users.add(User(email=body.email, password_hash=password_hash))
    return UserOut.model_validate(user)  # committed before the response is sent


@router.get("/me")
async def read_me(me: Me) -> UserOut:
    return UserOut.model_validate(me)


@router.post("/bookmarks", status_code=201)
async def add_bookmark(body: BookmarkIn, me: Me, bookmarks: BookmarksDep) -> BookmarkOut:
    bookmark = await bookmarks.add(Bookmark(owner_id=me.id, **body.model_dump()))
    return BookmarkOut.model_validate(bookmark)


@router.get("/bookmarks")
async def list_bookmarks(
    me: Me, bookmarks: BookmarksDep, page: PageParamsDep, sort: BookmarkSort
) -> Page[BookmarkOut]:
    return await bookmarks.page(page, sort=sort, owner_id=me.id)


@router.get("/bookmarks/{bookmark_id}", responses=problem_responses(BookmarkNotFoundError))
async def read_bookmark(bookmark: OwnedBookmark) -> BookmarkOut:
    return BookmarkOut.model_validate(bookmark)


@router.delete(
    "/bookmarks/{bookmark_id}",
    status_code=204,
    responses=problem_responses(BookmarkNotFoundError),
)
async def delete_bookmark(bookmark: OwnedBookmark, bookmarks: BookmarksDep) -> None:
    await bookmarks.delete(bookmark)


@router.get("/admin/report", dependencies=[require_roles("admin")])
async def report(session: SessionDep) -> dict[str, int]:
    """How many bookmarks each user keeps: a query of its own, on the request's session."""
    rows = await session.execute(
        select(User.email, func.count(Bookmark.id))
        .outerjoin(Bookmark, Bookmark.owner_id == User.id)
        .group_by(User.email)
        .order_by(User.email)
    )
    return dict(rows.all())
