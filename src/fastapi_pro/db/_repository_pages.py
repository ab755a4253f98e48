"""Pages of a repository: offset and keyset pages of its model, sorted, filtered, widened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm.interfaces import ORMOption

from fastapi_pro.db._cursor import CursorPage, CursorParams, paginate_cursor
from fastapi_pro.db._pagination import (
    CountStrategy,
    Page,
    PageParams,
    SortField,
    apply_sort,
    paginate,
)
from fastapi_pro.db._repository_core import ModelT, RepositoryCore
from fastapi_pro.db._rows import AnySelect, SchemaT, is_multi_column, labelled_columns


class PagedRepository(RepositoryCore[ModelT]):
    """`page` and `cursor_page` over the repository's model; the base of `ReadRepository`."""

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
