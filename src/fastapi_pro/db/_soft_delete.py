"""Hide soft-deleted rows from every ORM statement of our sessions, unless asked not to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from fastapi_pro.db._models import SOFT_DELETE_MAPPED, SOFT_DELETE_TABLES, SoftDelete

INCLUDE_DELETED = "include_deleted"
"""Execution option that shows soft-deleted rows: ``.execution_options(include_deleted=True)``."""

# Built once: constructing the option analyses its lambda, which costs more than a simple query.
_HIDE_DELETED = with_loader_criteria(
    SoftDelete, lambda cls: cls.deleted_at.is_(None), include_aliases=True
)


class SoftDeleteSession(Session):
    """The sync session class behind every `Database` session; filters `SoftDelete` rows."""


_REACHES_SOFT_DELETE: dict[Any, bool] = {}


def _reaches_soft_delete(mapper: Any) -> bool:
    """Whether a mapper is a `SoftDelete` model or has a relationship to one (cached)."""
    reaches = _REACHES_SOFT_DELETE.get(mapper)
    if reaches is None:
        reaches = issubclass(mapper.class_, SoftDelete) or any(
            issubclass(relationship.mapper.class_, SoftDelete)
            for relationship in mapper.relationships
        )
        _REACHES_SOFT_DELETE[mapper] = reaches
    return reaches


def _may_involve_soft_delete(state: ORMExecuteState) -> bool:
    """Whether the statement may read a `SoftDelete` table (when unsure: yes).

    Relationships count: the filter added to a parent's statement is what reaches its
    relationship loads (lazy and eager), which the hook does not filter on their own.
    """
    if any(_reaches_soft_delete(mapper) for mapper in state.all_mappers):
        return True
    statement: Any = state.statement
    if getattr(statement, "_setup_joins", True):  # a joined entity is not a selected mapper
        return True
    # FROM objects of the columns and of select_from(); get_final_froms() would compile.
    froms = getattr(statement, "columns_clause_froms", None)
    if froms is None:
        return True
    return any(_may_be_soft(f) for f in (*froms, *getattr(statement, "_from_obj", ())))


def _may_be_soft(from_: Any) -> bool:
    table = getattr(from_, "__element__", from_)  # ORM statements hold annotated copies
    return not isinstance(table, Table) or table in SOFT_DELETE_TABLES


def _hide_deleted(state: ORMExecuteState) -> None:
    if (
        (state.is_select or state.is_update or state.is_delete)
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
        and _may_involve_soft_delete(state)
    ):
        state.statement = state.statement.options(_HIDE_DELETED)


def _install_filter() -> None:
    """Filter every statement of our sessions from the first `SoftDelete` model on.

    A ``do_orm_execute`` listener costs every ORM statement about a tenth of a primary-key read
    on SQLite, so it is only installed once a model needs it.
    """
    if not event.contains(SoftDeleteSession, "do_orm_execute", _hide_deleted):
        event.listen(SoftDeleteSession, "do_orm_execute", _hide_deleted)


SOFT_DELETE_MAPPED.append(_install_filter)
if SOFT_DELETE_TABLES:
    _install_filter()
