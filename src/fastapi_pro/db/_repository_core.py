"""What every repository knows: its model, read from the type parameter, and its session."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar, get_args, get_origin
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Select, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.exc import StaleDataError

from fastapi_pro.db._errors import StaleVersionError, raise_translated
from fastapi_pro.db._models import SoftDelete
from fastapi_pro.db._session import SessionDep
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.errors import NotFoundError, quote_input

ModelT = TypeVar("ModelT")

_STALE = "{name} {id} was changed by someone else (version {expected} expected); reload it."


class RepositoryCore(Generic[ModelT]):
    """The model a repository serves, its session, and how its statements run and fail.

    The base of `ReadRepository` and `Repository`, which document the public methods.
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
            if isinstance(origin, type) and issubclass(origin, RepositoryCore):
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
                    cls._deleted_column = mapper.columns["deleted_at"] if cls._soft else None
                    cls._columns = frozenset(mapper.column_attrs.keys())
                    cls._relationships = frozenset(mapper.relationships.keys())

    _pk: Any
    _pk_name: str
    _version: Any
    _soft: bool
    _deleted_column: Column[Any] | None
    _columns: frozenset[str]
    _relationships: frozenset[str]

    def select(self, *where: ColumnElement[bool], **filters: Any) -> Select[ModelT]:
        """Return ``SELECT model WHERE ...`` to refine and pass to `paginate` or `list`."""
        statement = select(self.model)
        if where or filters:
            statement = statement.where(*self._where(where, filters))
        return statement

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

    def _stale(self, id: Any, expected: int) -> StaleVersionError:
        name, shown = self.model.__name__, shown_id(id)
        return StaleVersionError(
            _STALE.format(name=name, id=shown, expected=expected),
            extensions={"resource": name, "id": shown, "expected_version": expected},
        )

    def _not_found(self, id: Any) -> NotFoundError:
        name, shown = self.model.__name__, shown_id(id)
        return NotFoundError(
            f"{name} {shown} does not exist.", extensions={"resource": name, "id": shown}
        )


def shown_id(id: Any) -> str:
    """An id for an error message: numbers and UUIDs as they are, anything else bounded."""
    return str(id) if isinstance(id, int | UUID) else quote_input(id)
