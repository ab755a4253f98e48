from fastapi import FastAPI
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.auth import Auth, CurrentUser, Key, KeyRing, Principal, Tokens
from fastapi_pro.db import Base, BigIntPrimaryKey, Database, SessionDep


class Member(BigIntPrimaryKey, Base):
    __tablename__ = "session_members"

    name: Mapped[str] = mapped_column(String(100))


async def load_member(principal: Principal, session: AsyncSession) -> Member | None:
    if not principal.subject.isdigit():  # signed by us, but checked like input all the same
        return None
    return await session.get(Member, int(principal.subject))  # the request's own session


def create_app(database: Database, secret: str) -> FastAPI:
    app = FastAPI(lifespan=database.lifespan)
    tokens = Tokens(KeyRing(Key.hmac(secret)))
    # setup(app, settings, user_loader=load_member) wires the same on its own Database.
    auth = Auth(tokens, user_loader=load_member, request_session=database.request_session)
    auth.install(app)

    @app.patch("/me")
    async def rename(name: str, member: CurrentUser[Member], session: SessionDep) -> dict[str, str]:
        member.name = name  # committed with the rest of the request's work, on one connection
        return {"name": member.name, "same_session": str(member in session)}

    return app
