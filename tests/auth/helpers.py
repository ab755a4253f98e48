"""Apps, keys and token forgers shared by the auth tests."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import FastAPI, WebSocket

from fastapi_pro.auth import (
    Auth,
    CurrentPrincipal,
    CurrentUser,
    Key,
    KeyRing,
    OptionalPrincipal,
    OptionalUser,
    Principal,
    Tokens,
    require_roles,
    require_scopes,
)
from fastapi_pro.errors import install_error_handlers

ISSUER = "https://auth.example.com"
AUDIENCE = "orders-api"
SIGNING = Key.generate("RS256", kid="main")
OLD = Key.generate("ES256", kid="old")


@dataclass(frozen=True)
class User:
    id: str
    name: str


USERS = {"alice": User("alice", "Alice"), "bob": User("bob", "Bob")}


async def load_user(principal: Principal) -> User | None:
    return USERS.get(principal.subject)


def make_tokens(**options: Any) -> Tokens:
    return Tokens(KeyRing(SIGNING, [OLD]), issuer=ISSUER, audience=AUDIENCE, **options)


def make_app(auth: Auth | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    (auth or Auth(make_tokens(), user_loader=load_user)).install(app, token_url="/auth/token")

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    @app.get("/maybe")
    async def maybe(principal: OptionalPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject if principal else None}

    @app.get("/profile")
    async def profile(user: CurrentUser[User]) -> dict[str, str]:
        return {"name": user.name}

    @app.get("/greeting")
    async def greeting(user: OptionalUser[User]) -> dict[str, str]:
        return {"hello": user.name if user else "stranger"}

    @app.get("/orders", dependencies=[require_scopes("orders:read")])
    async def orders() -> list[int]:
        return [1, 2]

    @app.post("/orders")
    async def create_order(
        principal: Annotated[Principal, require_scopes("orders:write", "orders:read")],
    ) -> dict[str, str]:
        return {"by": principal.subject}

    @app.get("/admin", dependencies=[require_roles("admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, principal: CurrentPrincipal) -> None:
        await websocket.accept()
        await websocket.send_json({"subject": principal.subject})
        await websocket.close()

    return app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iat": now, "exp": now + 300, "iss": ISSUER, "aud": AUDIENCE}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], *, key: Key = SIGNING, **headers: Any) -> str:
    header = {"typ": "at+jwt", "kid": key.kid, **headers}
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(payload, key.signing_key, algorithm=key.algorithm, headers=header)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )
