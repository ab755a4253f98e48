"""The reading half of `Repository`: lookups, lists, counts and pages, plus shared helpers."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar, get_args, get_origin, overload
from uuid import UUID

from pydantic import BaseModel
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
from fastapi_pro.db._rows import AnySelect, SchemaT, is_multi_column, labelled_columns
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

    @overload
    async def page(
        self,
        params: PageParams,
        *where: ColumnElement[bool],
        into: type[SchemaT],
        columns: Sequence[Any] = ...,
        statement: AnySelect | None = ...,
        sortable: Mapping[str, Any] | None = ...,
        sort: Sequence[SortField] = ...,
        count: CountStrategy = ...,
        options: Sequence[ORMOption] = ...,
        include_deleted: bool = ...,
        **filters: Any,
    ) -> Page[SchemaT]: ...

    @overload
    async def page(
        self,
        params: PageParams,
        *where: ColumnElement[bool],
        into: None = None,
        statement: Select[ModelT] | None = ...,
        sortable: Mapping[str, Any] | None = ...,
        sort: Sequence[SortField] = ...,
        count: CountStrategy = ...,
        options: Sequence[ORMOption] = ...,
        include_deleted: bool = ...,
        **filters: Any,
    ) -> Page[ModelT]: ...

    async def page(
        self,
        params: PageParams,
        *where: ColumnElement[bool],
        into: type[BaseModel] | None = None,
        columns: Sequence[Any] = (),
        statement: AnySelect | None = None,
        sortable: Mapping[str, Any] | None = None,
        sort: Sequence[SortField] = (),
        count: CountStrategy = "subquery",
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> Page[Any]:
        """Return one offset page, sorted by ``sort`` then the primary key (see `paginate`).

        Args:
            params: The limit and offset of the request.
            where: Conditions, as for `list`.
            into: A pydantic model each item is validated into; needed with ``columns`` or a
                ``statement`` of several columns, whose rows it is filled from (see `paginate`).
            columns: Columns added to the select of the model, such as a labelled correlated
                count or ``EXISTS`` flag.
            statement: The select to page instead of `select`'s, such as one with joins.
            sortable: Sort field names mapped to any column expression, such as a joined
                entity's column. A labelled column of the select is sortable by its label, and
                any other name is the model's attribute.
            sort: The sort fields (from `sort_params`, which checks them against its list).
            count: How to find the total (see `CountStrategy`).
            options: Loader options.
            include_deleted: Show soft-deleted rows.
            filters: Column values to match, as for `list`.
        """
        selected = self._page_statement(
            where, filters, options=options, columns=columns, statement=statement, into=into
        )
        if sort:
            selected = apply_sort(selected, sort, self._sort_columns(selected, sort, sortable))
        selected = selected.order_by(self._pk)
        return await paginate(
            self.session, selected, params, into=into, count=count, include_deleted=include_deleted
        )

    @overload
    async def cursor_page(
        self,
        params: CursorParams,
        *where: ColumnElement[bool],
        into: type[SchemaT],
        columns: Sequence[Any] = ...,
        statement: AnySelect | None = ...,
        sortable: Mapping[str, Any] | None = ...,
        sort: Sequence[SortField] = ...,
        options: Sequence[ORMOption] = ...,
        include_deleted: bool = ...,
        **filters: Any,
    ) -> CursorPage[SchemaT]: ...

    @overload
    async def cursor_page(
        self,
        params: CursorParams,
        *where: ColumnElement[bool],
        into: None = None,
        statement: Select[ModelT] | None = ...,
        sortable: Mapping[str, Any] | None = ...,
        sort: Sequence[SortField] = ...,
        options: Sequence[ORMOption] = ...,
        include_deleted: bool = ...,
        **filters: Any,
    ) -> CursorPage[ModelT]: ...

    async def cursor_page(
        self,
        params: CursorParams,
        *where: ColumnElement[bool],
        into: type[BaseModel] | None = None,
        columns: Sequence[Any] = (),
        statement: AnySelect | None = None,
        sortable: Mapping[str, Any] | None = None,
        sort: Sequence[SortField] = (),
        options: Sequence[ORMOption] = (),
        include_deleted: bool = False,
        **filters: Any,
    ) -> CursorPage[Any]:
        """Return one keyset page, sorted by ``sort`` then the primary key.

        The arguments are those of `page`; computed and joined sort columns must never be NULL.
        See `paginate_cursor`.
        """
        selected = self._page_statement(
            where, filters, options=options, columns=columns, statement=statement, into=into
        )
        by_name = self._sort_columns(selected, sort, sortable)
        order = [(by_name[field.name], field.descending) for field in sort]
        order.append((getattr(self.model, self._pk_name), bool(sort and sort[-1].descending)))
        return await paginate_cursor(
            self.session,
            selected,
            params,
            order=order,
            into=into,
            include_deleted=include_deleted,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _page_statement(
        self,
        where: Sequence[ColumnElement[bool]],
        filters: Mapping[str, Any],
        *,
        options: Sequence[ORMOption],
        columns: Sequence[Any],
        statement: Select[Any] | None,
        into: type[BaseModel] | None,
    ) -> Select[Any]:
        """The select of a page: the model's (or ``statement``), filtered, with ``columns``."""
        selected = self.select() if statement is None else statement
        if where or filters:
            selected = selected.where(*self._where(where, filters))
        selected = selected.options(*options).add_columns(*columns)
        if into is None and is_multi_column(selected):
            msg = "A page of several columns needs into=, a pydantic model to fill from each row."
            raise TypeError(msg)
        return selected

    def _sort_columns(
        self, statement: Select[Any], sort: Sequence[SortField], sortable: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Each sort field's expression: from ``sortable``, a label of the select, or the model."""
        named = {**labelled_columns(statement), **(sortable or {})}
        columns = {}
        for field in sort:
            column = named.get(field.name, getattr(self.model, field.name, None))
            if column is None:
                msg = (
                    f"Cannot sort {self.model.__name__} by {field.name!r}: it is no attribute of"
                    " the model nor a label of the select; map it with sortable=."
                )
                raise ValueError(msg)
            columns[field.name] = column
        return columns

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
