from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal
from fastapi_pro.db import Base, BigIntPrimaryKey, Database, SessionDep


class Task(BigIntPrimaryKey, Base):
    __tablename__ = "tasks"

    owner: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))


class TaskIn(BaseModel):
    title: str


class TaskOut(TaskIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, int]]:
    # setup() registers the database before this lifespan starts, so it can use it already.
    async with Database.of(app).session() as session:
        tasks = await session.scalar(select(func.count()).select_from(Task))
    yield {"tasks_at_start": tasks or 0}  # lifespan state: request.state.tasks_at_start


app = FastAPI(title="Tasks", lifespan=lifespan)
# Settings() reads FASTAPI_PRO_* variables. metadata= creates missing tables at start-up,
# which suits a demo; a real service runs its migrations instead.
components = setup(app, Settings(), metadata=Base.metadata)


@app.post("/tasks", status_code=201)
async def add_task(task: TaskIn, principal: CurrentPrincipal, session: SessionDep) -> TaskOut:
    row = Task(owner=principal.subject, title=task.title)
    session.add(row)
    await session.flush()
    return TaskOut.model_validate(row)


@app.get("/stats")
async def stats(request: Request) -> dict[str, int]:
    return {"tasks_at_start": request.state.tasks_at_start}
