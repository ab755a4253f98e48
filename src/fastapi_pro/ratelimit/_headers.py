"""`RateLimitHeadersMiddleware`: the quota headers on every response of a limited route.

A `RateLimit` dependency leaves where each of its quotas stands in the request's scope; this
middleware writes them into the response when it starts, whatever sent it: the endpoint, an
error handler after a later dependency raised (a 401 from authentication, a 404, a 422), or
Starlette's error middleware (a 500). Headers written on FastAPI's injected ``Response`` would
be lost on all of those.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_pro.ratelimit._policy import Quota, header_fields

SCOPE_KEY = "fastapi_pro.ratelimit"
"""The scope entry holding the request's `Quota` list."""


def record(scope: Scope, quotas: list[Quota]) -> None:
    """Add ``quotas`` to those the request's response will announce."""
    scope.setdefault(SCOPE_KEY, []).extend(quotas)


class RateLimitHeadersMiddleware:
    """Pure ASGI: add ``RateLimit-Policy`` and ``RateLimit`` to responses of limited routes.

    `RateLimiter.install` puts it outside the app's whole stack, Starlette's error middleware
    included, so unhandled 500s carry the headers too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, stamping the headers on its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                quotas: list[Quota] | None = scope.get(SCOPE_KEY)
                if quotas:
                    message["headers"] = [*message.get("headers", ()), *header_fields(quotas)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
