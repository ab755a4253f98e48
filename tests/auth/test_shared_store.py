"""Two app instances (two workers) sharing one Redis token store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI

from fastapi_pro.auth import Auth, Principal, RedisTokenStore, password_flow_router
from fastapi_pro.errors import install_error_handlers
from tests.auth.helpers import client_for, load_user, make_tokens
from tests.conftest import RedisKeys

pytestmark = pytest.mark.redis


async def authenticate(username: str, password: str) -> Principal | None:
    return Principal(username) if password == "right" else None


@pytest.fixture
async def workers(
    redis_keys: RedisKeys,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    clients = [redis.asyncio.Redis.from_url(redis_keys.url) for _ in range(2)]
    apps = []
    for client in clients:
        app = FastAPI()
        install_error_handlers(app)
        store = RedisTokenStore(client, prefix=redis_keys.prefix)
        Auth(make_tokens(), user_loader=load_user, store=store).install(app)
        app.include_router(password_flow_router(authenticate))
        apps.append(app)
    async with client_for(apps[0]) as first, client_for(apps[1]) as second:
        yield first, second
    for client in clients:
        await client.aclose()


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


async def test_a_family_revoked_on_one_instance_is_refused_by_the_other(
    workers: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = workers
    tokens = (
        await first.post("/auth/token", data={"username": "alice", "password": "right"})
    ).json()

    rotated = await refresh(second, tokens["refresh_token"])  # rotation seen by both
    replayed = await refresh(first, tokens["refresh_token"])  # reuse: the family is revoked
    after = await refresh(second, rotated.json()["refresh_token"])

    assert rotated.status_code == 200
    assert replayed.status_code == 400
    assert after.status_code == 400


async def test_logout_on_one_instance_ends_the_session_on_the_other(
    workers: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = workers
    tokens = (await first.post("/auth/token", data={"username": "bob", "password": "right"})).json()

    logout = await first.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    refused = await refresh(second, tokens["refresh_token"])

    assert logout.status_code == 204
    assert refused.status_code == 400
