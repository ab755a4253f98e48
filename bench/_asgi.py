"""Drive an ASGI app in-process, without a network or a client library in the measurement."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

Message = dict[str, Any]
App = Callable[..., Any]


def http_scope(
    path: str, method: str = "GET", headers: Sequence[tuple[bytes, bytes]] = ()
) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: App, scope: Message, body: bytes = b"") -> tuple[int, bytes]:
    """Send one request through ``app``; return its status and body."""
    status = 0
    chunks: list[bytes] = []
    request: Message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> Message:
        return request

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    return status, b"".join(chunks)


async def time_per_request(app: App, scope: Message, count: int) -> float:
    """Mean seconds per request over ``count`` sequential requests."""
    start = time.perf_counter()
    for _ in range(count):
        await call(app, scope)
    return (time.perf_counter() - start) / count


async def interleaved(
    cases: dict[str, tuple[App, Message]], rounds: int, count: int
) -> dict[str, float]:
    """Run every case once per round, in turn, and return each one's median time per request."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for app, scope in cases.values():  # warm-up: imports, caches, code paths
        await time_per_request(app, scope, count // 10 or 1)
    for _ in range(rounds):
        for name, (app, scope) in cases.items():
            samples[name].append(await time_per_request(app, scope, count))
    return {name: statistics.median(values) for name, values in samples.items()}
