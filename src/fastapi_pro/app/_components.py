"""`Components`: what `setup` built for one app, reachable from a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fastapi_pro._shared.state import AppSlot
from fastapi_pro.auth import Auth
from fastapi_pro.db import Database
from fastapi_pro.health import Health
from fastapi_pro.observability import Metrics
from fastapi_pro.ratelimit import RateLimiter
from fastapi_pro.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Components:
    """What `setup` built, or was given, for one app; ``None`` where a block is turned off.

    Reach it from the value `setup` returns, or from a request with `Components.of`.

    Attributes:
        settings: The settings every block was built from.
        database: The `Database` registered in the app's lifespan.
        auth: The `Auth` installed on the app.
        metrics: The `Metrics` the middleware records into.
        tracer_provider: The provider of the requests' server spans.
        health: The `Health` whose probes the app serves.
        redis: The ``redis.asyncio`` client on ``redis.url``, closed at shutdown.
        rate_limiter: The `RateLimiter` of the app's `RateLimit` dependencies.
    """

    settings: Settings
    database: Database | None = None
    auth: Auth | None = None
    metrics: Metrics | None = None
    tracer_provider: TracerProvider | None = None
    health: Health | None = None
    redis: Redis | None = None
    rate_limiter: RateLimiter | None = None

    @classmethod
    def of(cls, connection: HTTPConnection | Starlette) -> Components:
        """Return the `Components` that `setup` gave the app serving ``connection`` (or an app).

        Raises:
            RuntimeError: When `setup` was not called on the app.
        """
        return COMPONENTS.get(connection)


COMPONENTS: AppSlot[Components] = AppSlot(
    "fastapi_pro_components", Components, missing="fastapi_pro.setup() was not called on this app."
)
"""The `Components` of an app `setup` ran on."""
