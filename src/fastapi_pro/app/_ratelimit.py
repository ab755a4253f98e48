"""The rate-limit block: a `RateLimiter` from ``settings.ratelimit``, keyed by the caller."""

from __future__ import annotations

from starlette.requests import Request

from fastapi_pro._shared.state import RATE_LIMITER
from fastapi_pro.app._wiring import Block, Wiring, chosen
from fastapi_pro.auth import Auth, verified_principal
from fastapi_pro.errors import AppError
from fastapi_pro.ratelimit import KeyFunc, RateLimiter

API_KEY_HEADER = "x-api-key"
"""The header `ApiKeyOrBearer` reads an API key from."""


class RateLimitBlock(Block):
    """The app's `RateLimiter`: its counters on Redis when ``redis.url`` is set."""

    def check(self, wiring: Wiring) -> None:
        """Refuse an app whose limiter was installed by hand."""
        if wiring.options.ratelimit:
            wiring.refuse_installed(RATE_LIMITER, "ratelimit")

    def build(self, wiring: Wiring) -> None:
        """Use the given `RateLimiter`, or build one keyed by the `Auth`'s verified callers."""
        parts = wiring.components

        def build() -> RateLimiter:
            return RateLimiter.from_settings(
                wiring.settings,
                redis=parts.redis,
                identify=caller_of(parts.auth) if parts.auth is not None else None,
                registry=parts.metrics.registry if parts.metrics is not None else None,
            )

        wiring.add(rate_limiter=chosen(wiring.options.ratelimit, RateLimiter, build))

    def install(self, wiring: Wiring) -> None:
        """Install the limiter (its header layer wraps the stack built so far)."""
        if wiring.components.rate_limiter is not None:
            wiring.components.rate_limiter.install(wiring.app)


def caller_of(auth: Auth) -> KeyFunc:
    """Name a request's caller by its verified access token's subject or API key id.

    A credential that does not verify names nobody (``None``): the request then counts
    against the client's address, so made-up tokens or keys never get counters of their own.
    The token is verified once per request: the auth dependencies reuse the principal.
    """

    async def identify(request: Request) -> str | None:
        principal = await verified_principal(request)
        if principal is not None:
            return f"subject:{principal.subject}"
        key = request.headers.get(API_KEY_HEADER)
        if not key or auth.api_keys is None:
            return None
        try:
            return f"api-key:{(await auth.api_keys.authenticate(key)).token_id}"
        except AppError:
            return None

    return identify
