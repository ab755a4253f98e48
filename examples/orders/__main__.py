"""Seed the demo database and serve the orders example: ``python -m examples.orders``.

The same code as ``fastapi-pro demo``, with the same options (``--port``, ``--workers``, ...).
"""

from __future__ import annotations

import sys

from fastapi_pro.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
