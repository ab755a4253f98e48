"""`RateLimit`: the dependency that limits a route, a router or a whole app."""

from __future__ import annotations

from starlette.requests import Request

from fastapi_pro._shared.routes import route_template
from fastapi_pro.errors import RateLimitedError, ServiceUnavailableError, declare_problems
from fastapi_pro.ratelimit._headers import record
from fastapi_pro.ratelimit._keys import KeyFunc
from fastapi_pro.ratelimit._limiter import RateLimiter
from fastapi_pro.ratelimit._policy import Policy, parse_policy
from fastapi_pro.ratelimit._storage import STORAGE_ERRORS, check_strategy
from fastapi_pro.settings import RateLimitStrategy


@declare_problems(RateLimitedError, ServiceUnavailableError)
class RateLimit:
    """Limit how often a caller may use a route: a FastAPI dependency.

    Put it in a route's, a router's or the app's ``dependencies``. Each request costs
    ``cost`` units against every limit, counted per caller and per route template; the
    response carries ``RateLimit-Policy`` and ``RateLimit`` headers, and once a limit is
    spent the request is refused with a 429 problem and ``Retry-After``.

    Example:
        ```python
        @app.get("/search", dependencies=[Depends(RateLimit("10/second", "500/hour"))])
        async def search(q: str) -> list[str]: ...
        ```

    Args:
        *limits: Limits such as ``"10/second"``, ``"500 per hour"`` or ``"5/15 minutes"``.
        cost: Units one request spends.
        key: Names whom a request counts against (a tenant, say); the app's `RateLimiter`
            decides when omitted or when it returns ``None``.
        scope: Counted per route template (``"route"``), or once across every route this
            dependency is on (a name of your choice: routes sharing it share the counts).
        names: The policies' names in the headers, one per limit; made from the limits when
            omitted.
        strategy: How requests are counted, instead of the `RateLimiter`'s.
        fail_open: When the storage fails, let the request through or answer 503, instead
            of what the `RateLimiter` does.

    Raises:
        ValueError: For a limit that cannot be read, a cost below 1, names that do not
            match the limits, or an unknown strategy.
    """

    def __init__(
        self,
        *limits: str,
        cost: int = 1,
        key: KeyFunc | None = None,
        scope: str = "route",
        names: tuple[str, ...] | None = None,
        strategy: RateLimitStrategy | None = None,
        fail_open: bool | None = None,
    ) -> None:
        if not limits or cost < 1 or (names is not None and len(names) != len(limits)):
            msg = "RateLimit needs at least one limit, a cost of 1 or more, and one name per limit."
            raise ValueError(msg)
        check_strategy(strategy)
        given = names or (None,) * len(limits)
        self.policies: tuple[Policy, ...] = tuple(map(parse_policy, limits, given))
        self.cost = cost
        self.key = key
        self.scope = scope
        self.strategy = strategy
        self.fail_open = fail_open

    async def __call__(self, request: Request) -> None:
        """Count the request; refuse it with a 429 once a limit is spent.

        Raises:
            RateLimitedError: When a limit is spent (429, with ``Retry-After``).
            ServiceUnavailableError: When the storage fails and the limiter fails closed.
        """
        limiter = RateLimiter.of(request)
        if not limiter.enabled:
            return
        route = route_template(request)
        who = await self.key(request) if self.key is not None else None
        who = who if who is not None else await limiter.key(request)
        counted_in = route if self.scope == "route" else f"scope:{self.scope}"
        try:
            quotas, refused = await limiter.hit(
                self.policies, (counted_in, who), cost=self.cost, strategy=self.strategy
            )
        except STORAGE_ERRORS as error:
            limiter.storage_failed(error, fail_open=self.fail_open)
            return
        limiter.storage_answered()
        record(request.scope, quotas)
        if refused is not None:
            raise limiter.refuse(route, refused)

    def __repr__(self) -> str:
        limits = ", ".join(repr(policy.name) for policy in self.policies)
        return f"RateLimit({limits}, cost={self.cost})"
