"""Keyset pagination: ``CursorPage`` with opaque, signed cursors over several sort columns."""

import base64
import binascii
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, overload

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Label, Select, and_, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db._page_model import PageModel
from fastapi_pro.db._rows import AnySelect, SchemaT, row_items
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.errors import BadRequestError, declare_problems

T = TypeVar("T")

CURSOR_KEY = "fastapi_pro.cursor_key"
"""``session.info`` key holding the HMAC key that signs cursors (set by `Database`)."""

_MAC_BYTES = 16
_MAX_CURSOR = 2048


class CursorPage(PageModel, Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="Opaque cursor of the next page; null at the end.")
    limit: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class CursorParams:
    """Validated ``cursor`` and ``limit`` query parameters."""

    cursor: str | None = None
    limit: int = 20


def cursor_params(*, default_limit: int = 20, max_limit: int = 100) -> Callable[..., CursorParams]:
    """Build a dependency reading ``?cursor=`` and a bounded ``?limit=``.

    Operations that use it document the 400 ``invalid_cursor`` that `paginate_cursor` raises
    for a cursor that does not decode.
    """

    @declare_problems(InvalidCursorError)
    def dependency(
        cursor: Annotated[
            str | None,
            Query(max_length=_MAX_CURSOR, description="`next_cursor` of the previous page."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=max_limit, description="Items per page.")] = (
            default_limit
        ),
    ) -> CursorParams:
        return CursorParams(cursor=cursor, limit=limit)

    return dependency


class InvalidCursorError(BadRequestError):
    """A ``cursor`` is malformed, altered or from another listing (400 ``invalid_cursor``)."""

    code = "invalid_cursor"
    title = "Invalid cursor"


def _invalid() -> InvalidCursorError:
    return InvalidCursorError(
        "The cursor is malformed, was altered, or belongs to another listing; "
        "start again from the first page."
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def _as_json(kind: type) -> Callable[[Any], Any]:
    """A reader taking a JSON value of type ``kind`` as it is."""

    def read(value: Any) -> Any:
        if not isinstance(value, kind):
            raise _invalid()
        return value

    return read


def _parsed(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A reader parsing a JSON string with ``parse`` (the text `_to_json` made)."""

    def read(value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid()
        return parse(value)

    return read


# How a cursor value is read back, by the Python type of its column (enums aside).
_READERS: dict[type, Callable[[Any], Any]] = {
    bool: _as_json(bool),
    int: _as_json(int),
    float: _as_json(float),
    str: _as_json(str),
    dt.datetime: _parsed(dt.datetime.fromisoformat),
    dt.date: _parsed(dt.date.fromisoformat),
    dt.time: _parsed(dt.time.fromisoformat),
    uuid.UUID: _parsed(uuid.UUID),
    decimal.Decimal: _parsed(decimal.Decimal),
}


def _reader(python_type: type) -> Callable[[Any], Any] | None:
    """How to read a cursor value of a column of ``python_type``; ``None``: no way."""
    if issubclass(python_type, enum.Enum):
        return python_type  # by value
    return _READERS.get(python_type)


def _from_json(value: Any, python_type: type) -> Any:
    """``value`` of a decoded cursor as ``python_type``, or `InvalidCursorError`."""
    reader = _reader(python_type)
    # No key is NULL, and a JSON true or false is a boolean only: never 1, 0 or an enum's value.
    if reader is None or value is None or isinstance(value, bool) is not (python_type is bool):
        raise _invalid()
    try:
        return reader(value)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise _invalid() from error


class _Codec:
    def __init__(self, key: bytes, signature: str) -> None:
        self._key = key
        self._signature = signature

    def _mac(self, payload: bytes) -> bytes:
        message = self._signature.encode() + b"\0" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, values: Sequence[Any]) -> str:
        if any(value is None for value in values):
            msg = "A keyset column is NULL in a row; wrap nullable expressions in coalesce()."
            raise ValueError(msg)
        payload = json.dumps([_to_json(v) for v in values], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str, types: Sequence[type]) -> list[Any]:
        try:
            body, mac = cursor.split(".")
            payload = _unb64(body)
            valid = hmac.compare_digest(_unb64(mac), self._mac(payload))
        except (ValueError, binascii.Error) as error:
            raise _invalid() from error
        if not valid:
            raise _invalid()
        try:
            values = json.loads(payload)
        except ValueError as error:
            raise _invalid() from error
        if not isinstance(values, list) or len(values) != len(types):
            raise _invalid()
        return [_from_json(value, kind) for value, kind in zip(values, types, strict=True)]


def _after(keys: Sequence[tuple[Any, bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """``(a, b, id) > (x, y, z)`` honouring each key's direction, as an OR of ANDs."""
    # Bound as typed parameters: SQLAlchemy refuses `column > True` with a bare Python bool.
    bound = [literal(value, column.type) for (column, _), value in zip(keys, values, strict=True)]
    clauses = []
    for i, (column, descending) in enumerate(keys):
        equal = [keys[j][0] == bound[j] for j in range(i)]
        beyond = column < bound[i] if descending else column > bound[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


@overload
async def paginate_cursor(
    session: AsyncSession,
    statement: AnySelect,
    params: CursorParams,
    *,
    order: Sequence[tuple[Any, bool]],
    into: type[SchemaT],
    include_deleted: bool = ...,
    key: bytes | None = ...,
) -> CursorPage[SchemaT]: ...


@overload
async def paginate_cursor(
    session: AsyncSession,
    statement: Select[T],
    params: CursorParams,
    *,
    order: Sequence[tuple[Any, bool]],
    into: None = None,
    include_deleted: bool = ...,
    key: bytes | None = ...,
) -> CursorPage[T]: ...


@overload
async def paginate_cursor(
    session: AsyncSession,
    statement: Select[Any, Any, *tuple[Any, ...]],
    params: CursorParams,
    *,
    order: Sequence[tuple[Any, bool]],
    into: None = None,
    include_deleted: bool = ...,
    key: bytes | None = ...,
) -> CursorPage[dict[str, Any]]: ...


async def paginate_cursor(
    session: AsyncSession,
    statement: AnySelect,
    params: CursorParams,
    *,
    order: Sequence[tuple[Any, bool]],
    into: type[BaseModel] | None = None,
    include_deleted: bool = False,
    key: bytes | None = None,
) -> CursorPage[Any]:
    """Return the page of ``statement`` after ``params.cursor``, ordered by ``order``.

    Args:
        session: The session to run the query in.
        statement: A ``SELECT`` without ``ORDER BY``: of one entity, or of several entities
            and columns (items as in `paginate`).
        params: The cursor and limit of the request.
        order: ``(expression, descending)`` pairs: mapped attributes, or computed or joined
            columns (a labelled subquery, an ``EXISTS``, an aggregate of a grouped statement).
            The last one must be unique (the primary key), and none may be NULL: mapped
            nullable columns are refused, computed ones need a ``coalesce``.
        into: A pydantic model to validate each item into (see `paginate`).
        include_deleted: Show soft-deleted rows.
        key: HMAC key for cursors; defaults to the one of the session's `Database`.

    Raises:
        BadRequestError: When the cursor is malformed, altered, or was made for another order.
    """
    codec = _Codec(_cursor_key(session, key), _signature(order))
    keyed = _keyed(statement, order, params.cursor, codec)
    result = await session.execute(
        keyed.limit(params.limit + 1), execution_options={INCLUDE_DELETED: include_deleted}
    )
    rows = result.all()
    has_next = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = codec.encode(rows[-1][-len(order) :]) if has_next else None
    items = row_items(list(result.keys())[: -len(order)], rows, into)
    return CursorPage(items=items, next_cursor=next_cursor, limit=params.limit, has_next=has_next)


def _cursor_key(session: AsyncSession, key: bytes | None) -> bytes:
    found: bytes | None = key or session.info.get(CURSOR_KEY)
    if not found:
        msg = "No cursor key: use a session from a Database, or pass key=."
        raise RuntimeError(msg)
    return found


def _signature(order: Sequence[tuple[Any, bool]]) -> str:
    """The order a cursor is made for, refusing nullable mapped columns."""
    for column, _ in order:
        if getattr(getattr(column, "expression", column), "nullable", False):
            msg = f"Keyset column {column} is nullable; keyset pagination needs NOT NULL columns."
            raise ValueError(msg)
    return ",".join(f"{'-' if d else ''}{c}" for c, d in order)


def _keyed(
    statement: Select[Any], order: Sequence[tuple[Any, bool]], cursor: str | None, codec: _Codec
) -> Select[Any]:
    """``statement`` ordered by ``order``, after ``cursor``, with the keys as last columns.

    The keys are selected again (``_key0``...) so the cursor is read from any row shape. The
    condition goes in ``HAVING`` for a grouped statement, whose keys may be aggregates.
    """
    expressions = [_expression(column) for column, _ in order]
    keyed = statement.add_columns(*(e.label(f"_key{i}") for i, e in enumerate(expressions)))
    keyed = keyed.order_by(*(c.desc() if d else c.asc() for c, d in order))
    types = [_python_type(e) for e in expressions]  # checked on the first page too
    if not cursor:
        return keyed
    values = codec.decode(cursor, types)
    after = _after([(e, d) for e, (_, d) in zip(expressions, order, strict=True)], values)
    return keyed.having(after) if keyed._group_by_clauses else keyed.where(after)


def _python_type(expression: Any) -> type:
    try:
        python_type: type = expression.type.python_type
    except NotImplementedError:
        python_type = object
    if python_type is object:  # untyped, e.g. literal_column(): no cursor could be read back
        msg = (
            f"Keyset column {expression} has no Python type; "
            "give it one with type_coerce(expression, Integer) or cast()."
        )
        raise TypeError(msg)
    return python_type


def _expression(column: Any) -> Any:
    """The expression under a label: a label's name is valid in ``ORDER BY`` only."""
    return column.element if isinstance(column, Label) else column
