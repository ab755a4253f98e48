"""A small notes service: fastapi-pro settings and problem-details errors on SQLite.

Run it with ``python -m examples.notes`` and open http://127.0.0.1:8000/docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_pro import Settings
from fastapi_pro.errors import (
    ConflictError,
    NotFoundError,
    install_error_handlers,
    problem_responses,
)


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(String(10_000))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10_000)


class NoteOut(NoteIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


class NoteNotFoundError(NotFoundError):
    code = "note_not_found"
    title = "Note not found"


class DuplicateTitleError(ConflictError):
    code = "duplicate_title"
    title = "A note with this title exists"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_async_engine(settings.database.url.get_secret_value())
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(title="Notes", lifespan=lifespan)
    app.state.sessions = sessions
    install_error_handlers(
        app,
        request_id_header=settings.observability.request_id_header,
        type_base_uri=settings.errors.type_base_uri,
        include_validation_input=settings.errors.include_validation_input,
    )

    @app.post("/notes", status_code=201, responses=problem_responses(DuplicateTitleError))
    async def create_note(note: NoteIn, session: Session) -> NoteOut:
        exists = await session.scalar(select(Note.id).where(Note.title == note.title))
        if exists is not None:
            raise DuplicateTitleError(f"A note titled {note.title!r} already exists.")
        row = Note(title=note.title, body=note.body)
        session.add(row)
        await session.commit()
        return NoteOut.model_validate(row)

    @app.get("/notes")
    async def list_notes(
        session: Session,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[NoteOut]:
        rows = await session.scalars(select(Note).order_by(Note.id).limit(limit).offset(offset))
        return [NoteOut.model_validate(row) for row in rows]

    @app.get("/notes/{note_id}", responses=problem_responses(NoteNotFoundError))
    async def read_note(note_id: int, session: Session) -> NoteOut:
        row = await session.get(Note, note_id)
        if row is None:
            raise NoteNotFoundError(f"Note {note_id} does not exist.")
        return NoteOut.model_validate(row)

    @app.get("/stats")
    async def stats(session: Session) -> dict[str, int]:
        count = await session.scalar(select(func.count()).select_from(Note))
        return {"notes": count or 0}

    return app
