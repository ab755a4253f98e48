"""`setup`: every block, in the order of the block table, on one app."""

from __future__ import annotations

from typing import Any, Unpack, cast

from fastapi import FastAPI
from starlette.types import Lifespan

from fastapi_pro.app._components import COMPONENTS, Components
from fastapi_pro.app._http import (
    BodyLimitBlock,
    CorsBlock,
    DocsBlock,
    ErrorsBlock,
    SecurityHeadersBlock,
)
from fastapi_pro.app._lifespan import compose_lifespan
from fastapi_pro.app._ratelimit import RateLimitBlock
from fastapi_pro.app._services import AuthBlock, DatabaseBlock, HealthBlock, RedisBlock
from fastapi_pro.app._switches import Options, Switches
from fastapi_pro.app._telemetry import (
    LoggingBlock,
    MetricsBlock,
    ObservabilityBlock,
    TracingBlock,
)
from fastapi_pro.app._wiring import Block, Wiring
from fastapi_pro.settings import Settings

BLOCKS: tuple[Block, ...] = (
    LoggingBlock(),
    DatabaseBlock(),
    RedisBlock(),
    BodyLimitBlock(),
    ErrorsBlock(),
    AuthBlock(),
    HealthBlock(),
    DocsBlock(),
    MetricsBlock(),
    TracingBlock(),
    # Middleware, from the inside out: each wraps the whole stack built so far.
    RateLimitBlock(),
    CorsBlock(),
    SecurityHeadersBlock(),
    ObservabilityBlock(),
)
"""The blocks `setup` wires, in order: a block builds on those before it."""

_STAGES = ("check", "build", "install")  # every block's check runs before any build


def setup(
    app: FastAPI, settings: Settings | None = None, **switches: Unpack[Switches]
) -> Components:
    """Wire every fastapi-pro block onto ``app`` from ``settings``.

    Each block can be turned off with its switch; passing an instance (``database=db``,
    ``auth=my_auth``, ...) uses that instance instead of building one from the settings
    (`Switches` lists them). Request bodies are limited to ``settings.max_body_size`` bytes
    (a 413 problem beyond) unless the app was given a ``max_body_size`` of its own; routers
    and routes may set theirs.

    Args:
        app: A plain `FastAPI` app that has not served a request yet.
        settings: The configuration; ``Settings()`` (the environment) when omitted.
        **switches: The blocks' switches and hooks, described in `Switches`.

    Returns:
        What was built, also reachable with `Components.of`.

    Raises:
        TypeError: For a switch `setup` does not have.
        RuntimeError: If `setup` was already called on ``app``, the app serves requests, or a
            block it installs was already installed by hand.
        KeyConfigError: In production, when no signing key is configured.
        ValueError: When a token store needs a block that is missing.
    """
    options = Options.of(switches)
    _check_app(app)
    settings = settings if settings is not None else Settings()
    wiring = Wiring(app, settings, options, Components(settings=settings))
    for stage in _STAGES:
        for block in BLOCKS:
            getattr(block, stage)(wiring)
    composed = compose_lifespan(
        app.router.lifespan_context,
        wiring.components.database,
        startup=wiring.startup,
        shutdown=wiring.shutdown,
    )
    # It yields what the app's own lifespan yields, state or None: whichever of Starlette's two
    # lifespan shapes the app had, it keeps.
    app.router.lifespan_context = cast("Lifespan[Any]", composed)
    COMPONENTS.put(app, wiring.components)
    return wiring.components


def _check_app(app: FastAPI) -> None:
    """Refuse an app `setup` already ran on, or one that already serves requests."""
    if COMPONENTS.find(app) is not None:
        msg = "setup() was already called on this app; call it once per app."
        raise RuntimeError(msg)
    if app.middleware_stack is not None:
        msg = "setup() must run before the app serves its first request."
        raise RuntimeError(msg)
