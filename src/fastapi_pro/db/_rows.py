"""The items of a page, made from its rows: entities, dicts of columns, or a pydantic schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Label, Select, inspect
from sqlalchemy.orm import InstanceState

SchemaT = TypeVar("SchemaT", bound=BaseModel)

AnySelect = Select[*tuple[Any, ...]]
"""A select of any number of entities and columns."""

_MISSING = object()


def is_multi_column(statement: Select[Any]) -> bool:
    """Whether ``statement`` selects more than one entity or column."""
    return len(statement.column_descriptions) > 1


def labelled_columns(statement: Select[Any]) -> dict[str, Any]:
    """The labelled columns of ``statement`` (``expr.label("name")``), by label."""
    return {c.name: c for c in statement.selected_columns if isinstance(c, Label)}


def row_items(keys: Sequence[str], rows: Sequence[Any], into: type[BaseModel] | None) -> list[Any]:
    """Turn rows into page items; columns past ``keys`` (the page's own) are left out.

    One column: its values (the entities of ``select(Model)``), validated into ``into`` when
    given. Several: a dict per row keyed by column label, or ``into`` filled from a `RowView`.
    """
    if len(keys) == 1:
        values = [row[0] for row in rows]
        if into is None:
            return values
        return [into.model_validate(value, from_attributes=True) for value in values]
    mappings = [dict(zip(keys, row, strict=False)) for row in rows]
    if into is None:
        return mappings
    return [into.model_validate(RowView(mapping), from_attributes=True) for mapping in mappings]


class RowView:
    """A row read as attributes: a column by its label first, then an attribute of its entities.

    So ``select(Article, count.label("favorites_count"), aliased(User, name="author"))`` fills a
    schema with ``slug`` (from the article), ``favorites_count`` and ``author`` (the user).
    """

    __slots__ = ("_entities", "_values")

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._entities = [v for v in values.values() if _is_entity(v)]

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        for entity in self._entities:
            value = getattr(entity, name, _MISSING)
            if value is not _MISSING:
                return value
        raise AttributeError(name)


def _is_entity(value: Any) -> bool:
    return isinstance(inspect(value, raiseerr=False), InstanceState)
