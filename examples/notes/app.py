"""A small notes service built from fastapi-pro blocks, on SQLite by default.

Run it with ``python -m examples.notes`` and open http://127.0.0.1:8000/docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings
from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    Database,
    Page,
    PageParamsDep,
    Repository,
    SoftDelete,
    SortField,
    Timestamps,
    UniqueViolationError,
    sort_params,
)
from fastapi_pro.errors import NotFoundError, install_error_handlers, problem_responses


class Note(BigIntPrimaryKey, Timestamps, SoftDelete, Base):
    __tablename__ = "notes"

    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(String(10_000))


class NoteRepository(Repository[Note]):
    pass


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10_000)


class NoteOut(NoteIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


Notes = Annotated[NoteRepository, Depends(NoteRepository.for_request)]
NoteSort = Annotated[
    list[SortField], Depends(sort_params("created_at", "title", default="-created_at"))
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    db = Database.from_settings(settings.database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await db.create_all(Base.metadata)  # a real service would run Alembic migrations
        async with db.lifespan(app):
            yield

    app = FastAPI(title="Notes", lifespan=lifespan)
    install_error_handlers(
        app,
        request_id_header=settings.observability.request_id_header,
        type_base_uri=settings.errors.type_base_uri,
        include_validation_input=settings.errors.include_validation_input,
    )

    @app.post("/notes", status_code=201, responses=problem_responses(UniqueViolationError))
    async def create_note(note: NoteIn, notes: Notes) -> NoteOut:
        return NoteOut.model_validate(await notes.add(Note(**note.model_dump())))

    @app.get("/notes")
    async def list_notes(notes: Notes, page: PageParamsDep, sort: NoteSort) -> Page[NoteOut]:
        return await notes.page(page, sort=sort)

    @app.get("/notes/{note_id}", responses=problem_responses(NotFoundError))
    async def read_note(note_id: int, notes: Notes) -> NoteOut:
        return NoteOut.model_validate(await notes.get(note_id))

    @app.delete("/notes/{note_id}", status_code=204, responses=problem_responses(NotFoundError))
    async def delete_note(note_id: int, notes: Notes) -> None:
        await notes.delete(note_id)

    return app
