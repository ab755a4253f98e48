"""Finding the app under test and running its lifespan."""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import AsyncGenerator, Iterable
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_pro.db import only_database
from fastapi_pro.testing._database import reset_schema
from fastapi_pro.testing._extras import require

# The ASGI app to send requests to for each running app: asgi-lifespan's wrapper, which
# hands the lifespan's state to every request.
_SERVED: weakref.WeakKeyDictionary[FastAPI, ASGIApp] = weakref.WeakKeyDictionary()


def load_target(spec: str) -> Any:
    """Import ``"package.module:attribute.path"`` and return the object it names.

    Raises:
        ValueError: When ``spec`` is not of that form or names nothing.
    """
    module_name, _, path = spec.strip().partition(":")
    if not module_name or not path:
        msg = f"{spec!r} is not of the form 'package.module:attribute'."
        raise ValueError(msg)
    target: Any = importlib.import_module(module_name)
    for part in path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            msg = f"{spec!r}: {module_name} has no attribute {path!r}."
            raise ValueError(msg) from None
    return target


async def build_app(target: Any) -> FastAPI:
    """Return ``target`` if it is an app, else call it (an app factory, sync or async).

    Raises:
        TypeError: When neither gives a `FastAPI` app.
    """
    app = target
    if not isinstance(app, FastAPI) and callable(app):
        app = target()
        if inspect.isawaitable(app):
            app = await app
    if not isinstance(app, FastAPI):
        msg = f"Expected a FastAPI app or a factory returning one, got {type(app).__name__}."
        raise TypeError(msg)
    return app


def _guarded(app: ASGIApp, allowed: tuple[str | URL, ...]) -> ASGIApp:
    """``app``, with every request handled under `only_database` of ``allowed``."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        with only_database(*allowed):
            await app(scope, receive, send)

    return guarded


def served_app(app: FastAPI) -> ASGIApp:
    """The ASGI app that carries ``app``'s lifespan state (``app`` itself if none ran)."""
    return _SERVED.get(app, app)


def _allowed(database_url: str | URL | None, allow: Iterable[str | URL]) -> tuple[str | URL, ...]:
    """The URLs the app's databases may use; none to check without ``database_url``."""
    others = tuple(allow)
    if database_url is None:
        if others:
            msg = "run_app(allow=...) widens the test-database guard, which needs database_url=."
            raise ValueError(msg)
        return ()
    return (database_url, *others)


def _guard(allowed: tuple[str | URL, ...]) -> AbstractContextManager[object]:
    """`only_database` of ``allowed``; no guard when nothing is to be checked."""
    return only_database(*allowed) if allowed else nullcontext()


@asynccontextmanager
async def run_app(
    app: FastAPI,
    *,
    database_url: str | URL | None = None,
    metadata: Any = None,
    allow: Iterable[str | URL] = (),
    startup_timeout: float = 30.0,
) -> AsyncGenerator[FastAPI]:
    """Run ``app``'s lifespan for the duration of the block, for tests.

    With ``metadata`` and ``database_url``, every table of ``metadata`` is dropped and created
    at ``database_url`` before the app starts. With ``database_url``, every `Database` the app
    uses, while it starts and in requests sent through `served_app`, must point at it or at
    one of ``allow``: tests never run against another database.

    Example:
        ```python
        @pytest_asyncio.fixture(scope="session", loop_scope="session")
        async def fastapi_app(fastapi_database_url: str) -> AsyncIterator[FastAPI]:
            app = create_app(Settings(environment="test"))
            async with run_app(app, database_url=fastapi_database_url, metadata=Base.metadata):
                yield app
        ```

    Raises:
        ValueError: When ``allow`` is given without ``database_url``.
        RuntimeError: When the app's `Database` is not the test database.
    """
    allowed = _allowed(database_url, allow)
    lifespan = require("asgi_lifespan")
    if database_url is not None and metadata is not None:
        await reset_schema(database_url, metadata)
    manager = lifespan.LifespanManager(
        app, startup_timeout=startup_timeout, shutdown_timeout=startup_timeout
    )
    async with AsyncExitStack() as stack:
        # The lifespan runs in a task started here, which keeps this context: a Database on
        # any other URL refuses to start, before the app's start-up code can write to it.
        with _guard(allowed):
            await stack.enter_async_context(manager)
        _SERVED[app] = _guarded(manager.app, allowed) if allowed else manager.app
        stack.callback(_SERVED.pop, app, None)
        yield app
