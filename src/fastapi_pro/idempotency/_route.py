"""`IdempotentRoute`: the route class that lets the `Idempotency` dependency see the response.

FastAPI builds the final `Response` (the endpoint's return value serialised) before the
``scope="function"`` dependencies exit, and sends it after. No dependency is handed that
response; a route class that wraps the request handler is. It keeps the response in the
request's scope, where the dependency's exit reads it while the request's transaction is
still open, and it answers a replay the dependency raises at its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

RESPONSE_KEY = "fastapi_pro.idempotency.response"
"""The scope key holding the rendered response (``None`` until the endpoint returned)."""


class Replay(Exception):  # noqa: N818 - a signal carrying the stored response, not an error
    """Raised by the dependency at its entry to answer with a stored response."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


class IdempotentRoute(APIRoute):
    """An `APIRoute` whose responses the `Idempotency` dependency can store and replay.

    Use it as the ``route_class`` of the app's router or of an `APIRouter`
    (``APIRouter(route_class=IdempotentRoute)``); routers included into another keep it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, keeping the response in the scope and answering replays."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            request.scope[RESPONSE_KEY] = None
            try:
                response = await handler(request)
            except Replay as replay:
                return replay.response
            request.scope[RESPONSE_KEY] = response
            return response

        return handle
