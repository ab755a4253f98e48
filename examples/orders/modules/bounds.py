"""Bounded integer types shared by the modules: no accepted number overflows its column.

Ids are BIGINT on PostgreSQL and 64-bit INTEGER on SQLite, and ``version`` is the library's
4-byte INTEGER. A larger number would reach the driver and fail there (``OverflowError`` on
SQLite, "value out of int64 range" on PostgreSQL), a 500; bounded here, it is a 422 problem.

Ids stop at 2**53 - 1, below the column's limit: JSON numbers beyond it are not exact in
JavaScript or in any parser that reads numbers as doubles (RFC 7493, section 2.2), so a
client could not tell two larger ids apart, nor check a larger bound in the schema.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, Field


def _json_integer(value: object) -> object:
    if isinstance(value, bool | str):  # pydantic's lax mode would take true as 1 and "5" as 5
        msg = "Input should be a valid integer"
        raise ValueError(msg)
    return value  # 5 and 5.0 are both integers in JSON Schema; pydantic refuses 5.5


Integer = Annotated[int, BeforeValidator(_json_integer)]
"""An integer in a JSON body, as its schema says: ``false`` and ``"5"`` are refused."""

MAX_ID = 2**53 - 1
"""The largest id: every integer up to it is exact as a JSON number (I-JSON)."""

MAX_VERSION = 2**31 - 1
"""The largest value of the 4-byte ``version`` column of `fastapi_pro.db.Versioned`."""

Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_json_integer)]
"""A row id in a request body."""

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A row id in a URL path."""

Version = Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(_json_integer)]
"""An optimistic-locking version in a request body."""


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def Omittable(**constraints: Any) -> Any:  # noqa: N802 - used like pydantic's Field
    """A field a change may leave out, but not set to null: its column is NOT NULL.

    ``name: str = Omittable(min_length=1)`` documents a plain string that is not required;
    ``{"name": null}`` is a 422 at validation, not a constraint violation at the database.
    """
    return Field(None, json_schema_extra=_without_default, **constraints)
