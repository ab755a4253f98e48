"""Lifespan composition: blocks' lifespans entered around an app's own, whose state survives."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi_pro.db import Database

Step = Callable[[], Awaitable[Any]]
"""One async start-up or shut-down action."""


def step(function: Callable[[], object]) -> Step:
    """Make a synchronous action a `Step`."""

    async def run() -> None:
        function()

    return run


def compose_lifespan(
    own: Callable[[Any], AbstractAsyncContextManager[Any]],
    database: Database | None,
    *,
    startup: list[Step],
    shutdown: list[Step],
) -> Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]:
    """Enter ``database``'s lifespan, then ``startup``, then the app's own lifespan ``own``.

    The state ``own`` yields reaches every request. At shutdown ``own`` ends first, then the
    ``shutdown`` steps run (last first), then the database is disposed.
    """

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncGenerator[Mapping[str, Any] | None]:
        async with AsyncExitStack() as stack:
            if database is not None:
                await stack.enter_async_context(database.lifespan(app))
            for action in shutdown:
                stack.push_async_callback(action)
            for action in startup:
                await action()
            state: Mapping[str, Any] | None = await stack.enter_async_context(own(app))
            yield state

    return lifespan
