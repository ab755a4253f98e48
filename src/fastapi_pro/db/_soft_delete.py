"""Hide soft-deleted rows from every ORM statement of our sessions, unless asked not to."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from fastapi_pro.db._models import SoftDelete

INCLUDE_DELETED = "include_deleted"
"""Execution option that shows soft-deleted rows: ``.execution_options(include_deleted=True)``."""


class SoftDeleteSession(Session):
    """The sync session class behind every `Database` session; filters `SoftDelete` rows."""


@event.listens_for(SoftDeleteSession, "do_orm_execute")
def _hide_deleted(state: ORMExecuteState) -> None:
    if (
        (state.is_select or state.is_update or state.is_delete)
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDelete,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )
