"""An AppError 404 problem response against FastAPI's default HTTPException 404, in one process.

Run: ``uv run python bench/errors.py [--rounds 15] [--count 2000]``.
Target: the fastapi-pro path costs at most 1.3x FastAPI's default path per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from fastapi import FastAPI, HTTPException

sys.path.insert(0, str(Path(__file__).parent))

from _asgi import call, http_scope, interleaved

from fastapi_pro.errors import NotFoundError, install_error_handlers


def fastapi_default() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> None:
        raise HTTPException(404, f"Item {item_id} does not exist.")

    return app


def fastapi_pro() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> None:
        raise NotFoundError(f"Item {item_id} does not exist.")

    return app


async def main(rounds: int, count: int) -> dict[str, float]:
    default, pro = fastapi_default(), fastapi_pro()
    raised, unknown = http_scope("/items/42"), http_scope("/nowhere")
    for app in (default, pro):  # both paths must really produce a 404 before timing them
        assert (await call(app, raised))[0] == 404
        assert (await call(app, unknown))[0] == 404
    print(json.loads((await call(pro, raised))[1]))
    medians = await interleaved(
        {
            "route raises: FastAPI HTTPException": (default, raised),
            "route raises: fastapi-pro NotFoundError": (pro, raised),
            "unknown route: FastAPI default": (default, unknown),
            "unknown route: fastapi-pro problem": (pro, unknown),
        },
        rounds,
        count,
    )
    names = list(medians)
    print(f"\n{'case':45} {'µs/request':>11} {'ratio':>6}")
    for base, ours in ((names[0], names[1]), (names[2], names[3])):
        for name in (base, ours):
            ratio = medians[name] / medians[base]
            print(f"{name:45} {medians[name] * 1e6:11.1f} {ratio:6.2f}x")
    return medians


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--count", type=int, default=2000)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.count))
