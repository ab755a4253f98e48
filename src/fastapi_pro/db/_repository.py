"""`Repository[Model]`: typed CRUD over one model, one SQL statement per operation."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload
from uuid import UUID

from sqlalchemy import ColumnElement, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from fastapi_pro.db._deletes import DeletingRepository
from fastapi_pro.db._errors import (
    ForeignKeyViolationError,
    StaleVersionError,
    UniqueViolationError,
)
from fastapi_pro.db._models import utcnow
from fastapi_pro.db._repository_core import ModelT
from fastapi_pro.errors import NotFoundError, declare_problems


@declare_problems(NotFoundError, StaleVersionError, UniqueViolationError, ForeignKeyViolationError)
class Repository(DeletingRepository[ModelT]):
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
        if any(self._has_related_objects(row) for row in items):
            return await self._add_through_session(items)
        return await self._insert_returning(items)

    def _has_related_objects(self, row: ModelT | Mapping[str, Any]) -> bool:
        return not isinstance(row, Mapping) and bool(self._relationships.intersection(vars(row)))

    async def _add_through_session(
        self, items: builtins.list[ModelT | Mapping[str, Any]]
    ) -> builtins.list[ModelT]:
        """Flush instances through the unit of work, which saves their related objects too."""
        self.session.add_all(items)  # refuses a mapping among them
        await self._flush()
        return [row for row in items if not isinstance(row, Mapping)]

    async def _insert_returning(
        self, items: builtins.list[ModelT | Mapping[str, Any]]
    ) -> builtins.list[ModelT]:
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

    @overload
    async def update(
        self,
        target: ModelT,
        values: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> ModelT: ...

    @overload
    async def update(
        self,
        target: int | str | UUID,
        values: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> ModelT: ...

    async def update(
        self,
        target: ModelT | int | str | UUID,
        values: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> ModelT:
        """Update one row, given as a loaded instance or as a primary key plus ``values``.

        ``target`` is an instance of the model, or the value of its primary key (an ``int``,
        ``str`` or ``UUID``).

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
        return statement.on_conflict_do_update(
            index_elements=conflict,
            set_=set_,
            where=self._deleted_at_column("add_if_absent").is_not(None),
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

    def _dialect_insert(self) -> Any:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert
        if dialect == "sqlite":
            return sqlite.insert
        msg = f"upsert() and add_if_absent() support PostgreSQL and SQLite, not {dialect}."
        raise NotImplementedError(msg)
