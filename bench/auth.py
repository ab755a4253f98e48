"""Auth costs: a request through `CurrentPrincipal` against calling pyjwt by hand, and the event
loop's longest stall while 8 logins hash passwords at once.

Run: ``uv run python bench/auth.py [--rounds 15] [--count 2000]``.
Targets: at most 1.15x the hand-written route; no event-loop stall above 5 ms while hashing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import jwt
from fastapi import FastAPI, Request
from pwdlib import PasswordHash

sys.path.insert(0, str(Path(__file__).parent))

from _asgi import call, http_scope, interleaved

from fastapi_pro.auth import (
    Auth,
    CurrentPrincipal,
    Key,
    KeyRing,
    PasswordHasher,
    Tokens,
)

ISSUER, AUDIENCE = "https://auth.example.com", "bench-api"
REQUIRED = {"require": ["exp", "iat", "sub"]}


def by_hand(key: Key) -> FastAPI:
    """The route a careful developer writes: decode with pyjwt, secure options, no library."""
    app = FastAPI()

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(
            token,
            key.verify_key,
            algorithms=[key.algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options=REQUIRED,  # type: ignore[arg-type]
        )
        return {"sub": claims["sub"]}

    return app


def with_current_principal(key: Key) -> FastAPI:
    app = FastAPI()
    Auth(Tokens(KeyRing(key), issuer=ISSUER, audience=AUDIENCE)).install(app)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"sub": principal.subject}

    return app


async def request_cost(rounds: int, count: int) -> None:
    print(f"\n{'request through /me':48} {'µs/request':>11} {'ratio':>6}")
    for key in (Key.hmac("k" * 32), Key.generate("ES256"), Key.generate("RS256")):
        token = Tokens(KeyRing(key), issuer=ISSUER, audience=AUDIENCE).issue("alice")
        scope = http_scope("/me", headers=[(b"authorization", f"Bearer {token}".encode())])
        hand, ours = by_hand(key), with_current_principal(key)
        for app in (hand, ours):
            status, body = await call(app, scope)
            assert status == 200, body
        cases = {
            f"{key.algorithm}: pyjwt decode by hand": (hand, scope),
            f"{key.algorithm}: CurrentPrincipal": (ours, scope),
        }
        medians = await interleaved(cases, rounds, count)
        base = next(iter(medians.values()))
        for name, value in medians.items():
            print(f"{name:48} {value * 1e6:11.1f} {value / base:6.2f}x")


async def longest_stall(work: Any, logins: int = 8) -> tuple[float, float]:
    """Run ``logins`` copies of ``work`` at once; return (longest loop stall, total) in ms."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last - 0.001)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await asyncio.gather(*(work(i) for i in range(logins)))
    total = time.perf_counter() - started
    done.set()
    await tick
    return max(stalls) * 1000, total * 1000


async def hashing_stalls() -> None:
    inline = PasswordHash.recommended()
    hasher = PasswordHasher()  # the same pwdlib default: Argon2id, 64 MiB, t=3, p=4
    stored = inline.hash("correct horse battery staple")
    await hasher.verify("warm the pool", stored)

    async def verify_inline(i: int) -> None:
        inline.verify(f"guess-{i}", stored)

    async def verify_off_loop(i: int) -> None:
        await hasher.verify(f"guess-{i}", stored)

    title = "8 concurrent logins (Argon2id 64 MiB, t=3, p=4)"
    print(f"\n{title:48} {'stall ms':>9} {'total ms':>9}")
    small = PasswordHasher.owasp_minimum()
    small_hash = await small.hash("correct horse battery staple")

    async def verify_small(i: int) -> None:
        await small.verify(f"guess-{i}", small_hash)

    cases = (
        ("pwdlib inline", verify_inline),
        ("PasswordHasher", verify_off_loop),
        ("PasswordHasher.owasp_minimum() (19 MiB, t=2, p=1)", verify_small),
    )
    for name, work in cases:
        samples = [await longest_stall(work) for _ in range(5)]
        stall = max(s for s, _ in samples)
        total = sorted(t for _, t in samples)[2]
        print(f"{name:48} {stall:9.1f} {total:9.0f}")
    hasher.close()
    small.close()


async def main(rounds: int, count: int) -> None:
    await request_cost(rounds, count)
    await hashing_stalls()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--count", type=int, default=2000)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.count))
