"""`RateLimit` against bare FastAPI and slowapi on the same route, and its Redis round trips.

Everything runs in one process, interleaved over several rounds, through the ASGI interface.
The route is ``GET /items/{item_id}`` limited to 1000 requests a minute per client address.
Requests rotate over 1000 client addresses (in every case, bare FastAPI's too), as many
callers would send them: no request is ever refused, so each figure is the cost of a check
that admits, and no caller's moving window grows past a few dozen entries.

Cases: bare FastAPI; the same route with a dependency that takes the request and does
nothing (what any limit written as a FastAPI dependency costs at least); `RateLimit`
installed as documented (``RateLimiter().install(app)``) on memory storage, with its default
moving window and with a fixed window; slowapi's ``Limiter`` on memory storage (moving window,
with and without its headers: `RateLimit` always sends them); `RateLimit` on Redis (moving
window).

Then the Redis round trips of one check, per strategy, counted on the client's connections:
each write to the socket that the client then waits on is a round trip, whatever it holds
(one command, a pipeline, a script).

Run: ``uv run --group bench python bench/ratelimit.py [--rounds 15] [--count 2000]
[--redis redis://127.0.0.1:6379/0] [--profile]``.
Targets: memory storage at most 1.15x bare; Redis one round trip per check.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import uuid
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from redis.asyncio import Connection, Redis

sys.path.insert(0, str(Path(__file__).parent))

from _asgi import App, Message, call, http_scope, interleaved, time_per_request

from fastapi_pro.ratelimit import RateLimit, RateLimiter, redis_storage

LIMIT = "1000/minute"
CALLERS = [f"10.0.{n // 250}.{n % 250 + 1}" for n in range(1000)]


class Callers:
    """Give each request the next of `CALLERS` as its client address."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.next = 0

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        self.next = (self.next + 1) % len(CALLERS)
        scope["client"] = (CALLERS[self.next], 50000)
        await self.app(scope, receive, send)


def bare() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    return app


def any_dependency() -> FastAPI:
    """The floor of a limit that is a FastAPI dependency: one that takes the request, does
    nothing and returns."""
    app = FastAPI()

    async def nothing(request: Request) -> None:
        return None

    @app.get("/items/{item_id}", dependencies=[Depends(nothing)])
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    return app


def limited(limiter: RateLimiter, **options: Any) -> FastAPI:
    app = FastAPI()
    limiter.install(app)

    @app.get("/items/{item_id}", dependencies=[Depends(RateLimit(LIMIT, **options))])
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    return app


def slowapi(*, headers: bool) -> FastAPI:
    from slowapi import Limiter, _rate_limit_exceeded_handler  # noqa: PLC0415 - bench group
    from slowapi.errors import RateLimitExceeded  # noqa: PLC0415
    from slowapi.util import get_remote_address  # noqa: PLC0415

    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri="memory://",
        strategy="moving-window",
        headers_enabled=headers,
    )
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.get("/items/{item_id}")
    @limiter.limit(LIMIT)
    async def read_item(request: Request, response: Response, item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    return app


class CountingConnection(Connection):
    """A redis-py connection that counts its writes (round trips) and the replies it reads."""

    writes = 0
    replies = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)

    async def read_response(self, *args: Any, **options: Any) -> Any:
        CountingConnection.replies += 1
        return await super().read_response(*args, **options)


async def round_trips(
    url: str, prefix: str, strategy: str, checks: int = 20
) -> tuple[float, float]:
    """Round trips and replies per admitted check of ``strategy`` (scripts loaded beforehand)."""
    client = Redis.from_url(url, connection_class=CountingConnection)
    limiter = RateLimiter(redis_storage(client, f"{prefix}{strategy}:"), strategy=strategy)  # type: ignore[arg-type]
    app, scope = Callers(limited(limiter)), http_scope("/items/42")
    try:
        assert (await call(app, scope))[0] == 200  # loads the scripts, opens the connection
        CountingConnection.writes = CountingConnection.replies = 0
        for _ in range(checks):
            assert (await call(app, scope))[0] == 200
        return CountingConnection.writes / checks, CountingConnection.replies / checks
    finally:
        await limiter.reset()
        await client.aclose()


def cases(redis: Redis, prefix: str) -> dict[str, App]:
    return {
        "bare FastAPI": bare(),
        "a dependency that does nothing (the floor)": any_dependency(),
        "RateLimit, memory, moving window": limited(RateLimiter()),
        "RateLimit, memory, fixed window": limited(RateLimiter(strategy="fixed-window")),
        "slowapi, memory, moving window, no headers": slowapi(headers=False),
        "slowapi, memory, moving window, headers": slowapi(headers=True),
        "RateLimit, Redis, moving window": limited(
            RateLimiter(redis_storage(redis, prefix), timeout=5)
        ),
    }


async def timings(apps: dict[str, App], rounds: int, count: int) -> None:
    scope = http_scope("/items/42")
    wrapped = {name: Callers(app) for name, app in apps.items()}
    for app in wrapped.values():
        status, body = await call(app, scope)
        assert status == 200, body
    medians = await interleaved(
        {name: (app, scope) for name, app in wrapped.items()}, rounds, count
    )
    bare_time = medians["bare FastAPI"]
    print(f"\n{'case':45} {'µs/request':>11} {'vs bare':>8}")
    for name, seconds in medians.items():
        print(f"{name:45} {seconds * 1e6:11.1f} {seconds / bare_time:7.2f}x")


async def profile(app: App, count: int, top: int = 25) -> None:
    """Where a memory-storage check's time goes, by cumulative and own time."""
    wrapped, scope = Callers(app), http_scope("/items/42")
    await time_per_request(wrapped, scope, count)
    profiler = cProfile.Profile()
    profiler.enable()
    await time_per_request(wrapped, scope, count)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        pstats.Stats(profiler).sort_stats(order).print_stats(top)


async def main(options: argparse.Namespace) -> None:
    prefix = f"fastapi-pro-bench:{uuid.uuid4().hex[:12]}:"
    if options.profile:
        await profile(limited(RateLimiter()), options.count)
        return
    redis = Redis.from_url(options.redis)
    apps = cases(redis, f"{prefix}timed:")
    try:
        await timings(apps, options.rounds, options.count)
        print(f"\n{'Redis, one admitted check':45} {'round trips':>11} {'replies':>8}")
        for strategy in ("moving-window", "sliding-window-counter", "fixed-window"):
            trips, replies = await round_trips(options.redis, prefix, strategy)
            print(f"{strategy:45} {trips:11.2f} {replies:8.2f}")
    finally:
        await RateLimiter.of(apps["RateLimit, Redis, moving window"]).reset()  # type: ignore[arg-type]
        await redis.aclose()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", action="store_true", help="profile the memory case alone")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(arguments()))
