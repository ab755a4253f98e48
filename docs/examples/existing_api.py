"""An API with a published contract, served by fastapi-pro without its clients noticing.

Its clients send ``Authorization: Token <jwt>``, log in by posting
``{"user": {"email": ..., "password": ...}}`` and read errors as
``{"errors": {"email": ["has already been taken"]}}``.
"""

from fastapi import FastAPI
from pydantic import BaseModel

from fastapi_pro import Settings, setup
from fastapi_pro.auth import (
    CurrentPrincipal,
    JsonLogin,
    PasswordHasher,
    Principal,
    password_flow_router,
)
from fastapi_pro.errors import (
    FieldError,
    FieldErrorsRenderer,
    NotFoundError,
    UnprocessableEntityError,
    problem_responses,
    quote_input,
)

hasher = PasswordHasher()
hashes_by_email: dict[str, str] = {}  # a table in a real service


class NewUser(BaseModel):
    email: str
    password: str


class Registration(BaseModel):
    user: NewUser


def field_name(error: FieldError) -> str:
    """The contract keys errors by the field's own name: ``email``, not ``user.email``."""
    return str(error.loc[-1])


async def log_in(email: str, password: str) -> Principal | None:
    stored = hashes_by_email.get(email)
    if stored is None:
        await hasher.verify_dummy(password)  # an unknown account costs a real check's time
        return None
    valid, new_hash = await hasher.verify_and_update(password, stored)
    if new_hash is not None:
        hashes_by_email[email] = new_hash
    return Principal(email) if valid else None


def create_app(settings: Settings | None = None) -> FastAPI:
    # FASTAPI_PRO_AUTH__SCHEMES='["Token"]' in the environment does the same as this default.
    settings = settings or Settings(auth={"schemes": ["Token"]})
    app = FastAPI()
    setup(app, settings, errors=FieldErrorsRenderer(key=field_name))
    login = JsonLogin(identifier=("user", "email"), password=("user", "password"))
    app.include_router(password_flow_router(log_in, prefix="/api/users", json_login=login))

    @app.post("/api/users", status_code=201, responses=problem_responses(UnprocessableEntityError))
    async def register(body: Registration) -> dict[str, str]:
        if body.user.email in hashes_by_email:
            taken = FieldError(("body", "user", "email"), "has already been taken")
            raise UnprocessableEntityError(errors=[taken])
        hashes_by_email[body.user.email] = await hasher.hash(body.user.password)
        return {"email": body.user.email}

    @app.get("/api/user")
    async def current_user(principal: CurrentPrincipal) -> dict[str, str]:
        return {"email": principal.subject}

    @app.get("/api/profiles/{username}", responses=problem_responses(NotFoundError))
    async def profile(username: str) -> dict[str, str]:
        raise NotFoundError(f"No profile named {quote_input(username)}.")

    return app
