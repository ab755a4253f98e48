"""Deletes, soft or hard, by primary key or by loaded instance, and restores of soft deletes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload
from uuid import UUID

from sqlalchemy import Column, ColumnElement, delete, inspect, update
from sqlalchemy.orm import Mapper, RelationshipDirection

from fastapi_pro.db._models import utcnow
from fastapi_pro.db._reads import ReadRepository
from fastapi_pro.db._repository_core import ModelT
from fastapi_pro.errors import AppError

_MANY_TO_ONE = RelationshipDirection.MANYTOONE


def _runs_orm_deletes(mapper: Mapper[Any]) -> bool:
    """Whether deleting an instance does ORM-side work a primary-key ``DELETE`` would skip."""
    # ty: `Mapper.dispatch` is a descriptor whose instance access gives `_DispatchCommon`
    # (its __get__ overload); ty also offers the descriptor's own type, which has no events.
    events = mapper.dispatch
    listened = events.before_delete or events.after_delete  # ty: ignore[missing-union-attribute]
    return bool(listened) or any(
        not relationship.viewonly
        and (relationship.cascade.delete or relationship.direction is not _MANY_TO_ONE)
        for relationship in mapper.relationships
    )


class DeletingRepository(ReadRepository[ModelT]):
    """`delete`, `delete_many` and `restore` over the model; `Repository` adds the other writes."""

    @overload
    async def delete(self, target: ModelT, *, hard: bool = False) -> None: ...

    @overload
    async def delete(self, target: int | str | UUID, *, hard: bool = False) -> None: ...

    async def delete(self, target: ModelT | int | str | UUID, *, hard: bool = False) -> None:
        """Delete one row, given as an instance or a primary key (an ``int``, ``str`` or ``UUID``).

        Models with `SoftDelete` get ``deleted_at`` set instead, unless ``hard=True``. An
        instance is deleted by one statement on its primary key (and its version, for
        `Versioned` models), then leaves the session; a soft-deleted one is refreshed from
        ``RETURNING``. Mappers with ORM-side delete work (a relationship that cascades deletes
        or nulls foreign keys, or ``before_delete``/``after_delete`` listeners) go through
        ``session.delete()`` instead, after a statement that locks the row.

        Raises:
            NotFoundError: When no (visible) row has this key: also when another transaction
                deleted (or soft-deleted) the instance's row since it was loaded.
            StaleVersionError: When a `Versioned` instance's row changed since it was loaded.
        """
        if isinstance(target, self.model):
            await self._delete_instance(target, hard=hard or not self._soft)
        elif await self.delete_many(self._pk == target, hard=hard) == 0:
            raise self._not_found(target)

    async def _delete_instance(self, instance: ModelT, *, hard: bool) -> None:
        await self._flush()  # pending changes first: the version matched below is the stored one
        state = inspect(instance)
        if state.identity is None:  # never stored
            raise self._not_found(getattr(instance, self._pk_name))
        where = self._loaded_row(instance, state.identity)
        if not hard:
            deleted = await self._soft_delete_row(where)
        elif _runs_orm_deletes(inspect(self.model)):
            deleted = await self._delete_through_session(instance, where)
        else:
            deleted = await self._delete_row(instance, where)
        if not deleted:  # failure path only: tell a vanished row from a changed one
            raise await self._vanished_or_stale(instance, where[: len(state.identity)])

    def _loaded_row(self, instance: ModelT, identity: tuple[Any, ...]) -> list[Any]:
        """Criteria matching the instance's row as loaded: primary key, then version."""
        mapper: Mapper[Any] = inspect(self.model)
        key = zip(mapper.primary_key, identity, strict=True)
        where = [column == value for column, value in key]
        if self._version is not None:
            where.append(self._version == getattr(instance, self._version.key))
        return where

    def _deleted_at(self, value: datetime | None) -> dict[str, Any]:
        """The values of a soft delete (a time) or a restore (``None``), the version bumped."""
        values: dict[str, Any] = {"deleted_at": value}
        if self._version is not None:
            values[self._version.key] = self._version + 1
        return values

    async def _soft_delete_row(self, where: list[Any]) -> bool:
        values = self._deleted_at(utcnow())
        statement = update(self.model).where(*where).values(values).returning(self.model)
        result = await self._execute(
            statement, False, synchronize_session=False, populate_existing=True
        )
        return result.scalars().one_or_none() is not None  # refreshed the instance

    async def _delete_row(self, instance: ModelT, where: list[Any]) -> bool:
        statement = delete(self.model).where(*where)
        result = await self._execute(statement, True, synchronize_session=False)
        if result.rowcount != 1:
            return False
        if instance in self.session:
            self.session.expunge(instance)  # gone from the database, so from the identity map
        return True

    async def _delete_through_session(self, instance: ModelT, where: list[Any]) -> bool:
        """Lock the row with a no-op UPDATE, then let the unit of work delete it and cascade."""
        lock = update(self.model).where(*where).values({self._pk_name: self._pk})
        result = await self._execute(lock, True, synchronize_session=False)
        if result.rowcount != 1:
            return False
        await self.session.delete(instance)
        await self._flush()
        return True

    async def _vanished_or_stale(self, instance: ModelT, key: list[Any]) -> AppError:
        id = getattr(instance, self._pk_name)
        if self._version is not None and await self.exists(*key):  # still there, and visible
            return self._stale(id, getattr(instance, self._version.key))
        return self._not_found(id)

    async def delete_many(
        self, *where: ColumnElement[bool], hard: bool = False, **filters: Any
    ) -> int:
        """Delete (or soft-delete) every row matching the criteria; return how many."""
        criteria = self._where(where, filters)
        if self._soft and not hard:
            values = self._deleted_at(utcnow())
            statement: Any = update(self.model).where(*criteria).values(values)
            result = await self._execute(statement, False, synchronize_session=False)
        else:
            statement = delete(self.model).where(*criteria)
            result = await self._execute(statement, True, synchronize_session=False)
        return int(result.rowcount)

    async def restore(self, id: Any) -> ModelT:
        """Undo a soft delete.

        Raises:
            NotFoundError: When no soft-deleted row has this key.
        """
        deleted_at = self._deleted_at_column("restore")
        statement = (
            update(self.model)
            .where(self._pk == id, deleted_at.is_not(None))
            .values(self._deleted_at(None))
            .returning(self.model)
        )
        result = await self._execute(
            statement, True, synchronize_session=False, populate_existing=True
        )
        row = result.scalars().one_or_none()
        if row is None:
            raise self._not_found(id)
        return row  # type: ignore[no-any-return]

    def _deleted_at_column(self, method: str) -> Column[Any]:
        if self._deleted_column is None:
            msg = f"{method}() needs a SoftDelete model; {self.model.__name__} is none."
            raise TypeError(msg)
        return self._deleted_column
