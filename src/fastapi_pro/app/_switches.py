"""The keyword switches of `setup`: one per block, off with ``False`` or given an instance."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import TypedDict

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData

from fastapi_pro.auth import Auth, PrincipalReloader, UserLoader
from fastapi_pro.db import Database
from fastapi_pro.errors import ErrorRenderer
from fastapi_pro.health import Health
from fastapi_pro.observability import Metrics
from fastapi_pro.ratelimit import RateLimiter


class Switches(TypedDict, total=False):
    """The keyword arguments of `setup`; each one left out keeps its default.

    A block's switch turns it off with ``False``; passing an instance (``database=db``,
    ``auth=my_auth``, ...) uses that instance instead of building one from the settings.
    """

    errors: bool | ErrorRenderer
    """Install the error handlers (default ``True``), rendering in ``errors.shape`` or with
    this `ErrorRenderer`."""
    observability: bool
    """Install the observability middleware and what it feeds: metrics, the metrics route and
    tracing (default ``True``)."""
    logging: bool
    """Configure logging when ``observability.logging_enabled`` (process-wide; default
    ``True``)."""
    metrics: bool | Metrics
    """Record Prometheus metrics when ``observability.metrics_enabled``, or into this
    `Metrics`."""
    tracing: bool | TracerProvider
    """Trace requests when ``observability.tracing_enabled``, or with this provider."""
    database: bool | Database
    """Register a `Database` built from ``settings.database``, or this one, in the app's
    lifespan."""
    metadata: MetaData | None
    """Create this metadata's missing tables at start-up (demos and tests; real services run
    migrations), and the `SqlTokenStore` tables when that store is used."""
    auth: bool | Auth
    """Install an `Auth` built from ``settings.auth``, or this one."""
    user_loader: UserLoader | None
    """The `Auth`'s user loader, for ``CurrentUser``; one that takes a second parameter reads
    the user in the request's session, on the registered database."""
    reload_principal: PrincipalReloader | None
    """The `Auth`'s check of an identity's current grants at each refresh."""
    token_url: str | None
    """The password-flow token endpoint, so Swagger UI's Authorize button logs in."""
    health: bool | Health
    """Serve the liveness, readiness and startup probes of a `Health` built from
    ``settings.health``, or of this one; the database and Redis checks are added to it unless
    it has checks of those names."""
    ratelimit: bool | RateLimiter
    """Install a `RateLimiter` built from ``settings.ratelimit`` (keyed by the `Auth`'s verified
    callers, counting on Redis when ``redis.url`` is set), or this one, for `RateLimit`."""
    metrics_route: bool
    """Serve the metrics at ``observability.metrics_path`` (default ``True``)."""
    cors: bool
    """Answer cross-origin requests when ``cors.allow_origins`` is not empty (default
    ``True``)."""
    security_headers: bool
    """Add security headers when ``security_headers.enabled`` (default ``True``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """`Switches` with every default filled in: what the blocks read while `setup` runs."""

    errors: bool | ErrorRenderer = True
    observability: bool = True
    logging: bool = True
    metrics: bool | Metrics = True
    tracing: bool | TracerProvider = True
    database: bool | Database = True
    metadata: MetaData | None = None
    auth: bool | Auth = True
    user_loader: UserLoader | None = None
    reload_principal: PrincipalReloader | None = None
    token_url: str | None = None
    health: bool | Health = True
    ratelimit: bool | RateLimiter = True
    metrics_route: bool = True
    cors: bool = True
    security_headers: bool = True

    @classmethod
    def of(cls, switches: Switches) -> Options:
        """The options ``switches`` choose.

        Raises:
            TypeError: For a keyword `setup` does not take, naming the closest one it does.
        """
        known = [field.name for field in fields(cls)]
        for name in switches:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else "."
                msg = f"setup() got an unexpected keyword argument {name!r}{hint}"
                raise TypeError(msg)
        return cls(**switches)
