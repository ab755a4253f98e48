"""Bounded integer types shared by the modules: no accepted number overflows its column.

Ids are BIGINT on PostgreSQL and 64-bit INTEGER on SQLite, and ``version`` is the library's
4-byte INTEGER. A larger number would reach the driver and fail there (``OverflowError`` on
SQLite, "value out of int64 range" on PostgreSQL), a 500; bounded here, it is a 422 problem.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**63 - 1
"""The largest BIGINT (PostgreSQL) and INTEGER (SQLite) value."""

MAX_VERSION = 2**31 - 1
"""The largest value of the 4-byte ``version`` column of `fastapi_pro.db.Versioned`."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id in a request body."""

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A row id in a URL path."""

Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
"""An optimistic-locking version in a request body."""
