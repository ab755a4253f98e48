"""The reading half of `Repository`: lookups, lists, counts and pages, plus shared helpers."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar, get_args, get_origin
from uuid import UUID

from sqlalchemy import ColumnElement, Select, func, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import ORMOption

from fastapi_pro.db._cursor import CursorPage, CursorParams, paginate_cursor
from fastapi_pro.db._errors import raise_translated
from fastapi_pro.db._models import SoftDelete
from fastapi_pro.db._pagination import (
    CountStrategy,
    Page,
    PageParams,
    SortField,
    apply_sort,
    paginate,
)
from fastapi_pro.db._session import SessionDep
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.errors import NotFoundError, declare_problems, quote_input

ModelT = TypeVar("ModelT")


@declare_problems(NotFoundError)
class ReadRepository(Generic[ModelT]):
    """Typed reads over one model; `Repository` adds the writes.

    Subclass `Repository` rather than this class: ``class OrderRepository(Repository[Order])``.

    Every method runs at most one SQL statement on the success path, translates database errors
    into `AppError`s, hides soft-deleted rows unless ``include_deleted=True``, and passes loader
    ``options`` through. A repository takes the request's session:
    ``Annotated[OrderRepository, Depends(OrderRepository.for_request)]``. Operations that use it
    document the 404 its lookups raise, besides the session's problems.
    """

    model: type[ModelT]
    """The mapped class, taken from the type parameter."""

    def __init__(self, session: SessionDep) -> None:
        self.session: AsyncSession = session

    @classmethod
    async def for_request(cls, session: SessionDep) -> Self:
        """The repository on the request's session: ``Depends(OrderRepository.for_request)``.

        Prefer it to ``Depends()`` on the class: FastAPI runs a class's synchronous constructor
        in its threadpool, one thread hop per request, and awaits this coroutine in place.
        """
        return cls(session)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, ReadRepository):
                (model,) = get_args(base)
                if isinstance(model, type):
                    cls.model = model
                    mapper: Mapper[Any] = inspect(model)
                    cls._pk_name = mapper.get_property_by_column(mapper.primary_key[0]).key
                    # The mapped attribute's column, not the table's: statements built on it
                    # are ORM statements, which the soft-delete filter reaches.
                    cls._pk = getattr(model, cls._pk_name).__clause_element__()
                    cls._version = mapper.version_id_col
                    cls._soft = issubclass(model, SoftDelete)
                    cls._columns = frozenset(mapper.column_attrs.keys())
                    cls._relationships = frozenset(mapper.relationships.keys())

    _pk: Any
    _pk_name: str
    _version: Any
    _soft: bool
    _columns: frozenset[str]
    _relationships: frozenset[str]

    # -- reads ---------------------------------------------------------------------------------

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
        if found is not None and self._soft and not include_deleted and found.deleted_at:  # type: ignore[attr-defined]
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

    def select(self, *where: ColumnElement[bool], **filters: Any) -> Select[ModelT]:
        """Return ``SELECT model WHERE ...`` to refine and pass to `paginate` or `list`."""
        statement = select(self.model)
        if where or filters:
            statement = statement.where(*self._where(where, filters))
        return statement

    async def page(
        self,
        params: PageParams,
        *where: ColumnElement[bool],
        sort: Sequence[SortField] = (),
        count: CountStrategy = "subquery",
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> Page[ModelT]:
        """Return one offset page, sorted by ``sort`` then the primary key (see `paginate`)."""
        statement = self.select(*where, **filters)
        if options:
            statement = statement.options(*options)
        if sort:
            columns = {field.name: getattr(self.model, field.name) for field in sort}
            statement = apply_sort(statement, sort, columns)
        statement = statement.order_by(self._pk)
        return await paginate(
            self.session, statement, params, count=count, include_deleted=include_deleted
        )

    async def cursor_page(
        self,
        params: CursorParams,
        *where: ColumnElement[bool],
        sort: Sequence[SortField] = (),
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> CursorPage[ModelT]:
        """Return one keyset page, sorted by ``sort`` then the primary key.

        See `paginate_cursor`.
        """
        order = [(getattr(self.model, field.name), field.descending) for field in sort]
        order.append((getattr(self.model, self._pk_name), bool(sort and sort[-1].descending)))
        statement = self.select(*where, **filters).options(*options)
        return await paginate_cursor(
            self.session, statement, params, order=order, include_deleted=include_deleted
        )

    # -- helpers -------------------------------------------------------------------------------

    def _where(
        self, where: Sequence[ColumnElement[bool]], filters: Mapping[str, Any]
    ) -> builtins.list[ColumnElement[bool]]:
        self._check_columns(filters)
        return [*where, *(getattr(self.model, key) == value for key, value in filters.items())]

    def _check_columns(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - self._columns)
        if unknown:
            msg = (
                f"{self.model.__name__} has no column(s) {unknown}; known: {sorted(self._columns)}."
            )
            raise ValueError(msg)

    async def _execute(
        self, statement: Any, include_deleted: bool, params: Any = None, **options: Any
    ) -> Any:
        try:
            return await self.session.execute(
                statement, params, execution_options={INCLUDE_DELETED: include_deleted, **options}
            )
        except (DBAPIError, StaleDataError, OSError) as error:  # OSError: connection lost
            raise_translated(error)

    async def _flush(self) -> None:
        try:
            await self.session.flush()
        except (DBAPIError, StaleDataError, OSError) as error:  # OSError: connection lost
            raise_translated(error)

    def _not_found(self, id: Any) -> NotFoundError:
        name, shown = self.model.__name__, shown_id(id)
        return NotFoundError(
            f"{name} {shown} does not exist.", extensions={"resource": name, "id": shown}
        )


def shown_id(id: Any) -> str:
    """An id for an error message: numbers and UUIDs as they are, anything else bounded."""
    return str(id) if isinstance(id, int | UUID) else quote_input(id)
