from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal
from fastapi_pro.db import Base, BigIntPrimaryKey, SessionDep
from fastapi_pro.errors import NotFoundError


class Note(BigIntPrimaryKey, Base):
    __tablename__ = "notes"

    owner: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(1000))


class NoteIn(BaseModel):
    text: str


class NoteOut(NoteIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str


def create_app() -> FastAPI:
    app = FastAPI(title="Notes")
    setup(app, Settings())  # FASTAPI_PRO_DATABASE__URL names the database

    @app.post("/notes", status_code=201)
    async def add_note(note: NoteIn, me: CurrentPrincipal, session: SessionDep) -> NoteOut:
        row = Note(owner=me.subject, text=note.text)
        session.add(row)
        await session.flush()
        return NoteOut.model_validate(row)

    @app.get("/notes")
    async def my_notes(me: CurrentPrincipal, session: SessionDep) -> list[NoteOut]:
        rows = await session.scalars(select(Note).where(Note.owner == me.subject))
        return [NoteOut.model_validate(row) for row in rows]

    @app.get("/notes/{note_id}")
    async def read_note(note_id: int, me: CurrentPrincipal, session: SessionDep) -> NoteOut:
        row = await session.get(Note, note_id)
        if row is None or row.owner != me.subject:
            raise NotFoundError(f"Note {note_id} does not exist.")
        return NoteOut.model_validate(row)

    return app
