"""`ReadRepository`: lookups, lists, counts and pages of one model."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm.interfaces import ORMOption

from fastapi_pro.db._models import SoftDelete
from fastapi_pro.db._repository_core import ModelT
from fastapi_pro.db._repository_pages import PagedRepository
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.errors import NotFoundError, declare_problems


@declare_problems(NotFoundError)
class ReadRepository(PagedRepository[ModelT]):
    """Typed reads over one model; `Repository` adds the writes.

    Subclass `Repository` rather than this class: ``class OrderRepository(Repository[Order])``.

    Every method runs at most one SQL statement on the success path, translates database errors
    into `AppError`s, hides soft-deleted rows unless ``include_deleted=True``, and passes loader
    ``options`` through. A repository takes the request's session:
    ``Annotated[OrderRepository, Depends(OrderRepository.for_request)]``. Operations that use it
    document the 404 its lookups raise, besides the session's problems.
    """

    async def get(
        self, id: Any, *, options: Sequence[ORMOption] = (), include_deleted: bool = False
    ) -> ModelT:
        """Return the row with this primary key.

        Raises:
            NotFoundError: When it does not exist (or is soft-deleted); names the model and id.
        """
        found = await self.get_or_none(id, options=options, include_deleted=include_deleted)
        if found is None:
            raise self._not_found(id)
        return found

    async def get_or_none(
        self, id: Any, *, options: Sequence[ORMOption] = (), include_deleted: bool = False
    ) -> ModelT | None:
        """Return the row with this primary key, or ``None``."""
        found = await self.session.get(
            self.model,
            id,
            options=options,
            execution_options={INCLUDE_DELETED: include_deleted},
        )
        if not include_deleted and isinstance(found, SoftDelete) and found.deleted_at is not None:
            return None
        return found

    async def find_one(
        self,
        *where: ColumnElement[bool],
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> ModelT:
        """Return the one row matching the criteria.

        Raises:
            NotFoundError: When none matches.
        """
        found = await self.find_one_or_none(
            *where, options=options, include_deleted=include_deleted, **filters
        )
        if found is None:
            name = self.model.__name__
            raise NotFoundError(f"No {name} matches.", extensions={"resource": name})
        return found

    async def find_one_or_none(
        self,
        *where: ColumnElement[bool],
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> ModelT | None:
        """Return the one row matching the criteria, or ``None``; several matches raise."""
        statement = self.select(*where, **filters).options(*options)
        result = await self._execute(statement, include_deleted)
        return result.scalars().one_or_none()  # type: ignore[no-any-return]

    async def list(
        self,
        *where: ColumnElement[bool],
        order_by: Sequence[Any] = (),
        limit: int | None = None,
        offset: int | None = None,
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> builtins.list[ModelT]:
        """Return the rows matching the criteria, in ``order_by`` order."""
        statement = self.select(*where, **filters).options(*options).order_by(*order_by)
        statement = statement.limit(limit).offset(offset)
        result = await self._execute(statement, include_deleted)
        return builtins.list(result.scalars().all())

    async def count(
        self, *where: ColumnElement[bool], include_deleted: bool = False, **filters: Any
    ) -> int:
        """Return how many rows match the criteria."""
        statement = select(func.count()).select_from(self.model).where(*self._where(where, filters))
        result = await self._execute(statement, include_deleted)
        return int(result.scalar_one())

    async def exists(
        self, *where: ColumnElement[bool], include_deleted: bool = False, **filters: Any
    ) -> bool:
        """Return whether any row matches the criteria."""
        statement = select(self._pk).where(*self._where(where, filters)).limit(1)
        result = await self._execute(statement, include_deleted)
        return result.first() is not None
