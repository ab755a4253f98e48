"""Serve the notes example: ``python -m examples.notes [--port 8000]``."""

from __future__ import annotations

import argparse

import uvicorn

from examples.notes.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fastapi-pro notes example.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    print(f"Notes example on http://{args.host}:{args.port}/docs (SQLite file ./app.db)")
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
