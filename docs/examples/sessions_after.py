from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings
from fastapi_pro.db import (
    Base,
    BigIntPrimaryKey,
    Database,
    Repository,
    SessionDep,
    UniqueViolationError,
)
from fastapi_pro.errors import ConflictError, install_error_handlers, quote_input


class Account(BigIntPrimaryKey, Base):
    __tablename__ = "accounts"

    email: Mapped[str] = mapped_column(String(320), unique=True)


class EmailTakenError(ConflictError):
    code = "email_taken"
    title = "Email already registered"


class Accounts(Repository[Account]):
    async def register(self, email: str) -> Account:
        try:
            return await self.add(Account(email=email))  # INSERT now, not at commit
        except UniqueViolationError as error:  # by SQLSTATE, on PostgreSQL and SQLite alike
            raise EmailTakenError(f"{quote_input(email)} is registered already.") from error


router = APIRouter()


@router.post("/accounts", status_code=201)
async def register(
    email: str, accounts: Annotated[Accounts, Depends(Accounts.for_request)]
) -> dict[str, str]:
    account = await accounts.register(email)
    return {"email": account.email}


@router.post("/accounts/import", status_code=201)
async def import_accounts(emails: list[str], session: SessionDep) -> dict[str, int]:
    session.add_all(Account(email=email) for email in emails)  # written at commit...
    return {"imported": len(emails)}  # ...which happens before this response is sent


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database = Database.from_settings(settings.database)  # one engine and pool per app
    app = FastAPI(lifespan=database.lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app
