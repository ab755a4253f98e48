"""Seed the demo database and serve the orders example: ``python -m examples.orders``."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from examples.orders.main import create_app
from examples.orders.seed import main as seed
from fastapi_pro import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fastapi-pro orders example.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = Settings()
    base_url = f"http://{args.host}:{args.port}"
    asyncio.run(seed(settings, base_url=base_url))
    print(f"Orders example on {base_url}/docs")
    # fastapi-pro writes the access log and routes uvicorn's own loggers into loguru.
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, access_log=False, log_config=None
    )


if __name__ == "__main__":
    main()
