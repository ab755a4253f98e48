"""`RateLimiter`: the app's counters, their storage, and what to do when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from limits.aio.storage import MemoryStorage, Storage
from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request

from fastapi_pro._shared.routes import route_template
from fastapi_pro._shared.stack import install_outermost
from fastapi_pro._shared.state import LOGIN_GUARD, RATE_LIMITER, AppSlot, LoginGuard
from fastapi_pro.errors import RateLimitedError, ServiceUnavailableError
from fastapi_pro.ratelimit._headers import RateLimitHeadersMiddleware, record
from fastapi_pro.ratelimit._keys import KeyFunc, TrustedProxies
from fastapi_pro.ratelimit._login import DEFAULT_LOGIN_LIMITS, LoginLimits, username_key
from fastapi_pro.ratelimit._policy import Policy, Quota
from fastapi_pro.ratelimit._redis_window import RedisMovingWindow
from fastapi_pro.ratelimit._storage import (
    STORAGE_ERRORS,
    STRATEGIES,
    Outage,
    check_strategy,
    memory_storage,
    redis_storage,
)
from fastapi_pro.settings import RateLimitStrategy, Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RateLimiter:
    """Counts requests against `RateLimit` policies, for every limited route of one app.

    Create one per app and `install` it; `RateLimit` dependencies find it from the request.

    Args:
        storage: Where the counters live: a ``limits`` async storage; in this process's
            memory when omitted (exact for one process only).
        strategy: How requests are counted unless a `RateLimit` names its own.
        timeout: Seconds a check may wait for the storage before it counts as failed.
        fail_open: On a failed or slow check, let the request through (``True``) or answer
            a 503 problem (``False``), unless a `RateLimit` says otherwise.
        retry_after: The ``Retry-After`` seconds of that 503.
        trusted_proxies: Addresses or networks whose ``X-Forwarded-For`` names the client.
        identify: Names the caller (a user, an API key) a request counts against; ``None``
            from it, or no function, counts the request against the client's address.
        registry: Where the refusal and failure counters are registered (a `Metrics`'s
            ``registry``, say); a registry of its own when omitted.
        enabled: With ``False``, every check lets the request through and sends no headers.
        login: The limits `install` puts on the app's token endpoints (`check_login`): 5
            attempts a minute and 100 an hour per username, 20 token requests a minute per
            client address unless given; ``None`` limits no logins.

    Raises:
        ValueError: For an unknown strategy, a timeout that is not positive, or a trusted
            proxy that is not an address or network.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        strategy: RateLimitStrategy = "moving-window",
        timeout: float = 0.25,
        fail_open: bool = True,
        retry_after: int = 5,
        trusted_proxies: Iterable[str] = (),
        identify: KeyFunc | None = None,
        registry: CollectorRegistry | None = None,
        enabled: bool = True,
        login: LoginLimits | None = DEFAULT_LOGIN_LIMITS,
    ) -> None:
        check_strategy(strategy)
        if timeout <= 0:
            msg = f"The rate-limit timeout must be a positive number of seconds, not {timeout!r}."
            raise ValueError(msg)
        self.storage = storage if storage is not None else memory_storage()
        self.strategy = strategy
        self.timeout = timeout
        self.fail_open = fail_open
        self.retry_after = retry_after
        self.proxies = TrustedProxies(trusted_proxies)
        self.identify = identify
        self.enabled = enabled
        self.login = login
        self.registry = registry if registry is not None else CollectorRegistry()
        self._strategies = {name: kind(self.storage) for name, kind in STRATEGIES.items()}
        self._one_script = RedisMovingWindow.over(self.storage)
        self._outage = Outage(self.registry)
        self.refusals = _refusals(self.registry)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, redis: Redis | None = None, **options: Any
    ) -> RateLimiter:
        """Build a `RateLimiter` from ``settings.ratelimit``.

        Args:
            settings: The settings; ``redis.key_prefix`` prefixes the counters' keys.
            redis: The client of ``redis.url``, used when the storage is Redis.
            **options: Further keyword arguments of `RateLimiter` (``identify``, ``registry``,
                ``login`` instead of the ``login_*`` settings).

        Raises:
            ValueError: When ``ratelimit.storage`` is ``redis`` but no client is given.
        """
        config = settings.ratelimit
        use_redis = config.storage == "redis" or (config.storage == "auto" and redis is not None)
        if use_redis and redis is None:
            msg = "ratelimit.storage is 'redis', but redis.url is not set: set it."
            raise ValueError(msg)
        prefix = settings.redis.key_prefix + config.key_prefix
        options.setdefault("login", _login_limits(settings))
        return cls(
            redis_storage(redis, prefix) if use_redis and redis is not None else None,
            strategy=config.strategy,
            timeout=config.timeout,
            fail_open=config.fail_open,
            retry_after=config.retry_after,
            trusted_proxies=config.trusted_proxies,
            enabled=config.enabled,
            **options,
        )

    @classmethod
    def of(cls, connection: HTTPConnection | Starlette) -> RateLimiter:
        """The `RateLimiter` installed on the app serving ``connection`` (or on an app).

        Raises:
            RuntimeError: When none was installed.
        """
        return INSTALLED.get(connection)

    def install(self, app: Any) -> None:
        """Make this the limiter of ``app``'s `RateLimit` dependencies, and send their headers.

        With `login` limits, the app's token endpoints (`password_flow_router`) also ask
        `check_login` before they verify a password.

        Raises:
            RuntimeError: If the app already serves requests, or a limiter was installed.
        """
        install_outermost(app, RateLimitHeadersMiddleware, flag=RATE_LIMITER)
        INSTALLED.put(app, self)
        LOGIN_GUARD.put(app, LoginGuard(self.check_login) if self.login is not None else None)

    async def key(self, request: Request) -> str:
        """Whom ``request`` counts against: the identified caller, or the client's address."""
        if self.identify is not None:
            caller = await self.identify(request)
            if caller is not None:
                return caller
        return f"address:{self.proxies.client_address(request)}"

    async def check_login(self, request: Request, identifier: str | None) -> None:
        """Count a login attempt against the `login` limits; refuse it once one is spent.

        Every attempt counts against the client address's limits; one naming a username
        (``identifier``) against that username's too. Call it before the password is
        verified, so a refusal says nothing of whether the account exists. The quotas go
        into the response's ``RateLimit`` headers, and a refusal into the refusal counter.

        Raises:
            RateLimitedError: When a limit is spent (429, with ``Retry-After``).
            ServiceUnavailableError: When the storage fails and the limiter fails closed.
        """
        limits = self.login
        if not self.enabled or limits is None:
            return
        keys = [(limits.per_address, f"address:{self.proxies.client_address(request)}")]
        if identifier:
            keys.append((limits.per_username, username_key(identifier)))
        try:
            refused = await self._count_login(request, keys)
        except STORAGE_ERRORS as error:
            self.storage_failed(error, fail_open=limits.fail_open)
            return
        self.storage_answered()
        if refused is not None:
            raise self.refuse(route_template(request), refused)

    async def _count_login(
        self, request: Request, keys: list[tuple[tuple[Policy, ...], str]]
    ) -> Quota | None:
        """Count each key against its policies, stopping at the first refusal."""
        for policies, who in keys:
            if policies:
                quotas, refused = await self.hit(policies, ("login", who))
                record(request.scope, quotas)
                if refused is not None:
                    return refused
        return None

    async def hit(
        self,
        policies: Sequence[Policy],
        identifiers: tuple[str, ...],
        *,
        cost: int = 1,
        strategy: RateLimitStrategy | None = None,
    ) -> tuple[list[Quota], Quota | None]:
        """Count ``cost`` against the policies; the first that has no room refuses.

        With the moving window on Redis, one script checks every policy and counts the request
        only if all of them have room. Otherwise each policy is counted in turn, up to the
        first that refuses (the ones before it have counted the request).

        Returns:
            Where each counted policy stands, and the refusing one's quota (``None`` if none).

        Raises:
            TimeoutError: When the storage took longer than ``timeout``.
            limits.errors.StorageError: When the storage failed.
        """
        name = strategy or self.strategy
        async with self._bounded():
            if name == "moving-window" and self._one_script is not None:
                return await self._one_script.hit(policies, identifiers, cost)
            return await self._one_by_one(name, policies, identifiers, cost)

    async def _one_by_one(
        self,
        strategy: RateLimitStrategy,
        policies: Sequence[Policy],
        identifiers: tuple[str, ...],
        cost: int,
    ) -> tuple[list[Quota], Quota | None]:
        counter = self._strategies[strategy]
        quotas: list[Quota] = []
        for policy in policies:
            allowed = await counter.hit(policy.item, *identifiers, cost=cost)
            stats = await counter.get_window_stats(policy.item, *identifiers)
            quota = Quota(policy, stats.remaining, stats.reset_time - time.time())
            quotas.append(quota)
            if not allowed:
                return quotas, quota
        return quotas, None

    def _bounded(self) -> AbstractAsyncContextManager[object]:
        """``timeout`` around a check, but for the memory storage, which never waits.

        Its checks never yield to the event loop, so no timeout could fire, and setting one
        costs each request more than a memory check itself.
        """
        if type(self.storage) is MemoryStorage:
            return contextlib.nullcontext()
        return asyncio.timeout(self.timeout)

    async def reset(self) -> None:
        """Forget every count (between tests, say); a Redis storage deletes its keys."""
        await self.storage.reset()

    def storage_failed(self, error: BaseException, *, fail_open: bool | None) -> None:
        """Count and log a failed check, then let it through or refuse it.

        Raises:
            ServiceUnavailableError: When failing closed (503 with ``Retry-After``).
        """
        fail_open = self.fail_open if fail_open is None else fail_open
        self._outage.failed(error, fail_open=fail_open)
        if not fail_open:
            msg = "Request limits cannot be checked right now; try again later."
            raise ServiceUnavailableError(msg, retry_after=self.retry_after) from None

    def storage_answered(self) -> None:
        """Note that the storage answers (ending an outage)."""
        self._outage.recovered()

    def refuse(self, route: str, refused: Quota) -> RateLimitedError:
        """Count a refusal and return the 429 problem to raise."""
        self.refusals.labels(route, refused.policy.name).inc()
        detail = f"Too many requests: the {refused.policy.name} limit is used up."
        return RateLimitedError(detail, retry_after=max(1.0, refused.reset_after))


def _login_limits(settings: Settings) -> LoginLimits | None:
    """The ``login_*`` limits of ``settings.ratelimit``, or ``None`` when they are off."""
    config = settings.ratelimit
    if not config.login_limits:
        return None
    return LoginLimits(
        config.login_per_username, config.login_per_address, fail_open=config.login_fail_open
    )


def _refusals(registry: CollectorRegistry) -> Counter:
    return Counter(
        "ratelimit_refusals",
        "Requests refused with a 429, by route template and policy.",
        ("http_route", "policy"),
        registry=registry,
    )


INSTALLED: AppSlot[RateLimiter] = AppSlot(
    "fastapi_pro_rate_limiter",
    RateLimiter,
    missing=(
        "No RateLimiter is installed on this app: call RateLimiter().install(app), or "
        "fastapi_pro.setup(app)."
    ),
)
"""The `RateLimiter` of an app."""
