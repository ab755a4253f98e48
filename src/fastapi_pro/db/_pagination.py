"""Offset pages with a total, and sorting checked against the fields an endpoint declares."""

# No `from __future__ import annotations` here: the dependency factories build signatures that
# FastAPI reads at runtime, with bounds taken from their arguments.

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar, overload

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db._page_model import PageModel
from fastapi_pro.db._rows import AnySelect, SchemaT, row_items
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.errors import BadRequestError, declare_problems, quote_input

T = TypeVar("T")

CountStrategy = Literal["exact", "subquery", "window", "none"]
"""How `paginate` finds the total.

- ``"subquery"`` (default): one statement; the total is an uncorrelated ``(SELECT count(*) ...)``
  column computed once by the database.
- ``"window"``: one statement with ``count(*) OVER ()``.
- ``"exact"``: a separate ``COUNT`` statement (two statements).
- ``"none"``: no total; ``has_next`` comes from fetching ``limit + 1`` rows.

The one-statement strategies see no rows past the last page; they then count separately, so the
total stays right (it is never reported as 0 for a non-empty table).
"""


class Page(PageModel, Generic[T]):
    """One page of items with its position and, unless counting was skipped, the total."""

    items: list[T]
    total: int | None = Field(description="Rows matching the query; null when not counted.")
    limit: int
    offset: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class PageParams:
    """Validated ``limit`` and ``offset`` query parameters."""

    limit: int = 20
    offset: int = 0


def page_params(
    *, default_limit: int = 20, max_limit: int = 100, max_offset: int = 100_000
) -> Callable[..., PageParams]:
    """Build a dependency reading bounded ``limit`` and ``offset`` query parameters.

    Out-of-range values are a 422 problem pointing at the parameter.
    """

    def dependency(
        limit: Annotated[int, Query(ge=1, le=max_limit, description="Items per page.")] = (
            default_limit
        ),
        offset: Annotated[int, Query(ge=0, le=max_offset, description="Items to skip.")] = 0,
    ) -> PageParams:
        return PageParams(limit=limit, offset=offset)

    return dependency


PageParamsDep = Annotated[PageParams, Depends(page_params())]
"""``?limit=`` (1 to 100, default 20) and ``?offset=`` (0 to 100,000) as a `PageParams`."""


@dataclass(frozen=True, slots=True)
class SortField:
    """One sort key: a field name and its direction."""

    name: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.name}" if self.descending else self.name


class InvalidSortError(BadRequestError):
    """A ``sort`` value names a field the endpoint does not sort by (400 ``invalid_sort``)."""

    code = "invalid_sort"
    title = "Invalid sort"


def parse_sort(
    values: Sequence[str], allowed: Sequence[str], *, max_fields: int | None = None
) -> list[SortField]:
    """Parse ``["-created_at,name"]``-style values into sort fields, checking names.

    A field named again is ignored: its first mention decides its direction.

    Args:
        values: The raw values, each one field or several separated by commas.
        allowed: The field names that may be sorted by.
        max_fields: At most this many distinct fields (default: as many as ``allowed``).

    Raises:
        InvalidSortError: For an empty or unknown field, or too many fields; the problem lists
            the allowed fields.
    """
    fields: dict[str, SortField] = {}
    for value in values:
        for token in value.split(","):
            name = token.removeprefix("-")
            if name not in allowed:
                raise _sort_error(f"Cannot sort by {quote_input(name)}.", allowed)
            fields.setdefault(name, SortField(name, token.startswith("-")))
    if max_fields is not None and len(fields) > max_fields:
        raise _sort_error(f"At most {max_fields} sort fields are allowed.", allowed)
    return list(fields.values())


def _sort_error(message: str, allowed: Sequence[str]) -> InvalidSortError:
    return InvalidSortError(
        f"{message} Sortable fields: {', '.join(allowed)}.",
        extensions={"allowed": list(allowed)},
    )


def _sort_schema(fields: Sequence[str]) -> dict[str, Any]:
    """One field per value (an enum, for Swagger UI's picker), or several separated by commas."""
    one = "-?(?:" + "|".join(re.escape(field) for field in fields) + ")"
    return {
        "anyOf": [
            {"type": "string", "enum": [c for f in fields for c in (f, f"-{f}")]},
            {"type": "string", "pattern": f"^{one}(?:,{one})*$"},
        ]
    }


def sort_params(*fields: str, default: str | None = None) -> Callable[..., list[SortField]]:
    """Build a dependency for a ``?sort=-created_at,name`` parameter limited to ``fields``.

    The allowed values (each field, ascending or with ``-``) appear as an enum in OpenAPI; both
    ``sort=a,-b`` and ``sort=a&sort=-b`` are accepted. Any other value is a 400
    ``invalid_sort`` problem, documented on every operation that uses the dependency.
    """
    if not fields:
        msg = "sort_params() needs at least one field name."
        raise ValueError(msg)
    default_values = parse_sort([default], fields) if default else []

    @declare_problems(InvalidSortError)
    def dependency(sort: list[str] | None = None) -> list[SortField]:
        return parse_sort(sort, fields) if sort else list(default_values)

    # A function takes any attribute, and inspect.signature (so FastAPI) reads this one; the
    # type checkers know functions only by their declared attributes, without __signature__.
    dependency.__signature__ = _sort_signature(fields)  # type: ignore[attr-defined]  # ty: ignore[missing-attribute]
    return dependency


def _sort_signature(fields: Sequence[str]) -> inspect.Signature:
    """``(*, sort: list[str] | None = Query(...))``, with ``fields`` in the schema FastAPI reads."""
    query = Query(
        description=f"Comma-separated sort fields, `-` for descending: {', '.join(fields)}.",
        json_schema_extra={"items": _sort_schema(fields)},
    )
    parameter = inspect.Parameter(
        "sort",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[list[str] | None, query],
    )
    return inspect.Signature([parameter], return_annotation=list[SortField])


def apply_sort(
    statement: Select[Any], sort: Sequence[SortField], columns: Mapping[str, Any]
) -> Select[Any]:
    """Add ``ORDER BY`` for ``sort``, mapping each field name through ``columns``."""
    order = [columns[f.name].desc() if f.descending else columns[f.name].asc() for f in sort]
    return statement.order_by(*order)


@overload
async def paginate(
    session: AsyncSession,
    statement: AnySelect,
    params: PageParams,
    *,
    into: type[SchemaT],
    count: CountStrategy = ...,
    include_deleted: bool = ...,
) -> Page[SchemaT]: ...


@overload
async def paginate(
    session: AsyncSession,
    statement: Select[T],
    params: PageParams,
    *,
    into: None = None,
    count: CountStrategy = ...,
    include_deleted: bool = ...,
) -> Page[T]: ...


@overload
async def paginate(
    session: AsyncSession,
    statement: Select[Any, Any, *tuple[Any, ...]],
    params: PageParams,
    *,
    into: None = None,
    count: CountStrategy = ...,
    include_deleted: bool = ...,
) -> Page[dict[str, Any]]: ...


async def paginate(
    session: AsyncSession,
    statement: AnySelect,
    params: PageParams,
    *,
    into: type[BaseModel] | None = None,
    count: CountStrategy = "subquery",
    include_deleted: bool = False,
) -> Page[Any]:
    """Run ``statement`` for one page and return a `Page` (see `CountStrategy`).

    The statement should be ordered (by a unique key last) for stable pages. Items are the
    values of a one-column statement (``select(Model)`` gives entities); a statement of several
    entities and columns gives a dict per row, keyed by label. With ``into``, each item is that
    pydantic model, validated from the entity or from the row: a field is read from the
    column of that label first, then from the attributes of the row's entities.
    """
    limit, offset = params.limit, params.offset
    options = {INCLUDE_DELETED: include_deleted}
    total: int | None
    if count == "none":
        keys, rows = await _rows(session, statement.limit(limit + 1).offset(offset), options)
        items = row_items(keys, rows[:limit], into)
        return Page(items=items, total=None, limit=limit, offset=offset, has_next=len(rows) > limit)
    if count == "exact":
        total = await _count(session, statement, options)
        keys, rows = await _rows(session, statement.limit(limit).offset(offset), options)
    else:
        keys, rows, total = await _counted_rows(session, statement, params, count, options)
    items = row_items(keys, rows, into)
    has_next = offset + len(items) < (total or 0)
    return Page(items=items, total=total, limit=limit, offset=offset, has_next=has_next)


async def _rows(
    session: AsyncSession, statement: Select[Any], options: dict[str, Any]
) -> tuple[list[str], Sequence[Any]]:
    result = await session.execute(statement, execution_options=options)
    return list(result.keys()), result.all()


async def _counted_rows(
    session: AsyncSession,
    statement: Select[Any],
    params: PageParams,
    count: CountStrategy,
    options: dict[str, Any],
) -> tuple[list[str], Sequence[Any], int]:
    """The rows of one page and the total, from one statement carrying a ``_total`` column."""
    total_column = (
        func.count().over()
        if count == "window"
        else _count_statement(statement).correlate(None).scalar_subquery()
    )
    paged = statement.add_columns(total_column.label("_total"))
    keys, rows = await _rows(session, paged.limit(params.limit).offset(params.offset), options)
    if rows:
        return keys[:-1], rows, int(rows[0][-1])
    if params.offset:  # past the end: the total is in no row, so count it
        return keys[:-1], rows, await _count(session, statement, options)
    return keys[:-1], rows, 0


def _count_statement(statement: Select[Any]) -> Select[int]:
    """``SELECT count(*)`` over the rows of ``statement``.

    A plain filtered select is counted directly; one with grouping, DISTINCT, a limit or
    set operations is counted as a subquery so the count matches its rows.
    """
    plain = not (
        getattr(statement, "_group_by_clauses", True)
        or getattr(statement, "_distinct", True)
        or getattr(statement, "_having_criteria", True)
        or statement._limit_clause is not None
        or statement._offset_clause is not None
    )
    if plain:
        counted: Select[int] = statement.with_only_columns(
            func.count(), maintain_column_froms=True
        ).order_by(None)
        return counted
    return select(func.count()).select_from(statement.order_by(None).subquery())


async def _count(session: AsyncSession, statement: Select[Any], options: dict[str, Any]) -> int:
    result = await session.execute(_count_statement(statement), execution_options=options)
    return int(result.scalar_one())
