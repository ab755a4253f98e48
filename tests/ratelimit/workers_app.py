"""The app the multi-worker test serves under ``uvicorn --workers 2``, in processes of its own.

``uvicorn --factory tests.ratelimit.workers_app:create`` builds it from the ``FASTAPI_PRO_*``
variables the test passes (``redis.url``, ``redis.key_prefix``), as a service would: `setup`
then keeps the counts in Redis, shared by every worker. Each limited route answers with the
worker's process id, and every response (a 429 too) names it in ``X-Worker``, so the test can
tell which worker served a request.
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_pro import setup
from fastapi_pro.ratelimit import RateLimit

LIMIT = 50
"""Requests per minute each limited route admits."""

STRATEGIES = ("moving-window", "sliding-window-counter", "fixed-window")
"""One limited route per strategy, at ``/limited/<strategy>``."""


class WorkerHeader:
    """Name the serving process in an ``X-Worker`` header on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-worker", str(os.getpid()).encode())]
            await send(message)

        await self.app(scope, receive, send_with_worker)


def create() -> FastAPI:
    """The app, wired by `setup` from the environment."""
    app = FastAPI()

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    for strategy in STRATEGIES:
        limit = RateLimit(f"{LIMIT}/minute", strategy=strategy)  # type: ignore[arg-type]
        app.add_api_route(f"/limited/{strategy}", pid, dependencies=[Depends(limit)])
    app.add_middleware(WorkerHeader)
    setup(app, database=False, auth=False, logging=False, observability=False)
    return app
