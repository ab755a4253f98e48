"""`Repository[Model]`: typed CRUD over one model, one SQL statement per operation."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper, RelationshipDirection

from fastapi_pro.db._errors import (
    ForeignKeyViolationError,
    StaleVersionError,
    UniqueViolationError,
)
from fastapi_pro.db._models import utcnow
from fastapi_pro.db._reads import ModelT, ReadRepository, shown_id
from fastapi_pro.errors import AppError, NotFoundError, declare_problems

_MANY_TO_ONE = RelationshipDirection.MANYTOONE


def _runs_orm_deletes(mapper: Mapper[Any]) -> bool:
    """Whether deleting an instance does ORM-side work a primary-key ``DELETE`` would skip."""
    return bool(mapper.dispatch.before_delete or mapper.dispatch.after_delete) or any(
        not relationship.viewonly
        and (relationship.cascade.delete or relationship.direction is not _MANY_TO_ONE)
        for relationship in mapper.relationships
    )


_STALE = "{name} {id} was changed by someone else (version {expected} expected); reload it."


@declare_problems(NotFoundError, StaleVersionError, UniqueViolationError, ForeignKeyViolationError)
class Repository(ReadRepository[ModelT]):
    """Typed data access for one model: ``class OrderRepository(Repository[Order]): ...``.

    Every method runs at most one SQL statement on the success path, translates database errors
    into `AppError`s, hides soft-deleted rows unless ``include_deleted=True``, and passes loader
    ``options`` through. A repository takes the request's session:
    ``Annotated[OrderRepository, Depends(OrderRepository.for_request)]``. Reads are documented
    on `ReadRepository`. Operations that use it document its 404 and its 409s (`StaleVersionError`,
    `UniqueViolationError`, `ForeignKeyViolationError`), besides the session's problems.
    """

    async def add(self, instance: ModelT) -> ModelT:
        """Insert one row; generated columns are filled in from ``RETURNING``, not re-read."""
        self.session.add(instance)
        await self._flush()
        return instance

    async def add_many(self, rows: Iterable[ModelT | Mapping[str, Any]]) -> builtins.list[ModelT]:
        """Insert many rows in batched ``INSERT ... RETURNING`` statements (1,000 rows each).

        Rows may be model instances or mappings of column values; mappings are the faster input
        (no instance is built just to be read back). Returns the inserted rows, fully loaded
        from ``RETURNING``: use them rather than the instances passed in. Instances that carry
        related objects are flushed through the unit of work instead, so that their
        relationships are saved too.
        """
        items = builtins.list(rows)
        if not items:
            return []
        if any(
            not isinstance(row, Mapping) and self._relationships.intersection(vars(row))
            for row in items
        ):
            self.session.add_all(items)
            await self._flush()
            return items  # type: ignore[return-value]
        values = [self._values(row) for row in items]
        # SQLite does not promise RETURNING order, so rows come back loaded but maybe reordered.
        ordered = self.session.get_bind().dialect.name != "sqlite"
        statement = insert(self.model).returning(self.model, sort_by_parameter_order=ordered)
        result = await self._execute(statement, False, params=values)
        return builtins.list(result.scalars().all())

    def _values(self, row: ModelT | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(row, Mapping):
            self._check_columns(row)
            return dict(row)
        return {key: value for key, value in vars(row).items() if key in self._columns}

    async def update(
        self,
        target: ModelT | Any,
        values: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> ModelT:
        """Update one row, given as a loaded instance or as a primary key plus ``values``.

        With ``expected_version`` (models with `Versioned`), the write only happens when the row
        is still at that version.

        Raises:
            NotFoundError: When no row has this key.
            StaleVersionError: When the row's version is not ``expected_version``, or it changed
                since the instance was loaded.
        """
        values = dict(values or {})
        self._check_columns(values)
        if isinstance(target, self.model):
            return await self._update_instance(target, values, expected_version)
        return await self._update_by_id(target, values, expected_version)

    async def _update_instance(
        self, instance: ModelT, values: dict[str, Any], expected_version: int | None
    ) -> ModelT:
        if expected_version is not None and self._version is not None:
            current = getattr(instance, self._version.key)
            if current != expected_version:
                raise self._stale(getattr(instance, self._pk_name), expected_version)
        for key, value in values.items():
            setattr(instance, key, value)
        await self._flush()
        return instance

    async def _update_by_id(
        self, id: Any, values: dict[str, Any], expected_version: int | None
    ) -> ModelT:
        where = [self._pk == id]
        if self._version is not None:
            values.setdefault(self._version.key, self._version + 1)
            if expected_version is not None:
                where.append(self._version == expected_version)
        statement = update(self.model).where(*where).values(values).returning(self.model)
        result = await self._execute(
            statement, False, synchronize_session=False, populate_existing=True
        )
        row = result.scalars().one_or_none()
        if row is None:  # failure path only: tell a missing row from a stale one
            if expected_version is not None and await self.exists(self._pk == id):
                raise self._stale(id, expected_version)
            raise self._not_found(id)
        return row  # type: ignore[no-any-return]

    async def update_many(
        self, values: Mapping[str, Any], *where: ColumnElement[bool], **filters: Any
    ) -> int:
        """Update every row matching the criteria in one statement; return how many changed."""
        values = dict(values)
        self._check_columns(values)
        if self._version is not None:
            values.setdefault(self._version.key, self._version + 1)
        statement = update(self.model).where(*self._where(where, filters)).values(values)
        result = await self._execute(statement, False, synchronize_session=False)
        return int(result.rowcount)

    async def upsert(
        self,
        values: Mapping[str, Any],
        *,
        conflict: Sequence[str],
        update: Sequence[str] | None = None,
    ) -> ModelT:
        """Insert a row, or update the one that has the same ``conflict`` columns.

        One ``INSERT ... ON CONFLICT (...) DO UPDATE ... RETURNING`` statement (PostgreSQL and
        SQLite). A soft-deleted row that conflicts is restored. When there is nothing to update
        (every given column is a conflict column, or ``update=[]``, on a model without
        `Timestamps`, `SoftDelete` or `Versioned`), the existing row is returned unchanged:
        the statement sets a conflict column to its own value, so it still returns the row.

        Args:
            values: Column values for the insert.
            conflict: Columns of the unique index or constraint to match on.
            update: Columns to overwrite on conflict; default: every given column but those.
        """
        self._check_conflict("upsert", values, conflict, update or ())
        statement = self._dialect_insert()(self.model).values(dict(values))
        columns = update if update is not None else [c for c in values if c not in conflict]
        set_ = self._conflict_set(statement, columns)
        if not set_:  # a no-op update, so that RETURNING still gives the existing row
            set_ = {conflict[0]: statement.excluded[conflict[0]]}
        statement = statement.on_conflict_do_update(index_elements=conflict, set_=set_)
        result = await self._execute(statement.returning(self.model), True, populate_existing=True)
        return result.scalars().one()  # type: ignore[no-any-return]

    async def add_if_absent(
        self, values: Mapping[str, Any], *, conflict: Sequence[str] | None = None
    ) -> ModelT | None:
        """Insert a row unless one with the same key exists; return it, or ``None`` if one did.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` statement (PostgreSQL and SQLite),
        so concurrent calls with the same values insert exactly one row and none of them fails:
        the way to write follow or favorite rows of a link table. Without ``conflict`` any
        unique or primary-key conflict counts; with it, only that index's, and other
        violations raise `UniqueViolationError`.

        For `SoftDelete` models a soft-deleted row counts as absent: it is restored with
        ``values`` and returned (``ON CONFLICT (...) DO UPDATE ... WHERE deleted_at IS NOT
        NULL``), so ``conflict`` is required there.
        """
        self._check_conflict("add_if_absent", values, conflict)
        statement = self._dialect_insert()(self.model).values(dict(values))
        if self._soft:
            statement = self._restore_deleted(statement, values, conflict)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=conflict or None)
        result = await self._execute(statement.returning(self.model), True, populate_existing=True)
        return result.scalars().one_or_none()  # type: ignore[no-any-return]

    def _restore_deleted(
        self, statement: Any, values: Mapping[str, Any], conflict: Sequence[str] | None
    ) -> Any:
        if not conflict:
            msg = (
                f"add_if_absent() on {self.model.__name__}, a SoftDelete model, needs conflict=: "
                "the columns of the unique index whose soft-deleted row it restores."
            )
            raise ValueError(msg)
        set_ = self._conflict_set(statement, [c for c in values if c not in conflict])
        deleted_at = self.model.__table__.c.deleted_at  # type: ignore[attr-defined]
        return statement.on_conflict_do_update(
            index_elements=conflict, set_=set_, where=deleted_at.is_not(None)
        )

    def _conflict_set(self, statement: Any, columns: Sequence[str]) -> dict[str, Any]:
        """What an upsert sets on conflict: ``columns`` from the new row, plus the mixins'."""
        set_: dict[str, Any] = {column: statement.excluded[column] for column in columns}
        if "updated_at" in self._columns:
            set_.setdefault("updated_at", utcnow())
        if self._soft:
            set_.setdefault("deleted_at", None)
        if self._version is not None:
            set_.setdefault(self._version.key, self._version + 1)
        return set_

    def _check_conflict(
        self,
        method: str,
        values: Mapping[str, Any],
        conflict: Sequence[str] | None,
        update: Sequence[str] = (),
    ) -> None:
        empty = conflict is not None and len(conflict) == 0
        if isinstance(conflict, str) or empty or (conflict is None and method == "upsert"):
            msg = (
                f"{method}() on {self.model.__name__} needs conflict=[...]: the columns of the "
                f"unique index or constraint to match on, not {conflict!r}."
            )
            raise ValueError(msg)
        self._check_columns([*values, *(conflict or ()), *update])

    async def delete(self, target: ModelT | Any, *, hard: bool = False) -> None:
        """Delete one row, given as an instance or a primary key.

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
        deleted_at = self.model.deleted_at  # type: ignore[attr-defined]
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

    def _dialect_insert(self) -> Any:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert
        if dialect == "sqlite":
            return sqlite.insert
        msg = f"upsert() and add_if_absent() support PostgreSQL and SQLite, not {dialect}."
        raise NotImplementedError(msg)

    def _stale(self, id: Any, expected: int) -> StaleVersionError:
        name, shown = self.model.__name__, shown_id(id)
        return StaleVersionError(
            _STALE.format(name=name, id=shown, expected=expected),
            extensions={"resource": name, "id": shown, "expected_version": expected},
        )
