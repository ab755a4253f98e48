import os
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI

from fastapi_pro.auth import (
    ApiKeyOrBearer,
    ApiKeys,
    Auth,
    CurrentUser,
    InMemoryApiKeyStore,
    Key,
    KeyRing,
    PasswordHasher,
    Principal,
    Tokens,
    password_flow_router,
    require_scopes,
)
from fastapi_pro.errors import install_error_handlers

# Secrets come from the environment in production (Settings reads FASTAPI_PRO_AUTH__SECRET_KEY).
JWT_SECRET = os.environ.get("ORDERS_JWT_SECRET") or secrets.token_urlsafe(32)
API_KEY_PEPPER = os.environ.get("ORDERS_API_KEY_PEPPER") or secrets.token_urlsafe(32)

hasher = PasswordHasher.owasp_minimum()


@dataclass
class User:
    username: str
    name: str
    password_hash: str
    scopes: frozenset[str]


USERS = {
    "alice": User("alice", "Alice", hasher.hasher.hash("wonderland"), frozenset({"orders:read"})),
}


async def load_user(principal: Principal) -> User | None:
    return USERS.get(principal.subject)


async def authenticate(username: str, password: str) -> Principal | None:
    user = USERS.get(username)
    if user is None:
        await hasher.verify_dummy(password)  # same time as a real check: no account probing
        return None
    valid, new_hash = await hasher.verify_and_update(password, user.password_hash)
    if new_hash is not None:
        user.password_hash = new_hash  # upgraded to the current parameters
    return Principal(username, scopes=user.scopes) if valid else None


api_keys = ApiKeys(InMemoryApiKeyStore(), pepper=API_KEY_PEPPER, prefix="orders")
auth = Auth(
    Tokens(KeyRing(Key.hmac(JWT_SECRET)), issuer="https://orders.example.com", audience="orders"),
    user_loader=load_user,
    api_keys=api_keys,
)

app = FastAPI()
install_error_handlers(app)
auth.install(app, token_url="/auth/token")  # noqa: S106 - a URL; Swagger UI logs in there
app.include_router(password_flow_router(authenticate))


@app.get("/me")
async def me(user: CurrentUser[User]) -> dict[str, str]:
    return {"username": user.username, "name": user.name}


@app.get("/orders", dependencies=[require_scopes("orders:read", api_key=True)])
async def list_orders() -> list[dict[str, int]]:
    return [{"id": 1}]


@app.post("/orders", status_code=201)
async def create_order(
    principal: Annotated[Principal, require_scopes("orders:write")],
) -> dict[str, str]:
    return {"created_by": principal.subject}


@app.get("/caller")
async def caller(principal: ApiKeyOrBearer) -> dict[str, str]:
    return {"subject": principal.subject, "method": principal.method}
