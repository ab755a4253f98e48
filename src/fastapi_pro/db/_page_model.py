"""What `Page` and `CursorPage` share: refusing ORM rows where a response schema belongs.

A page parametrised by a mapped class (``Page[Order]``) is a fine type annotation for code that
returns rows, but it has no JSON form: nothing says which columns to expose. Such a page fails
with a message naming the fix when it is used as a response model (when FastAPI declares the
route), not at the ``Page[Order]`` expression, and a page of rows that reaches JSON unconverted
names the same fix in its error.
"""

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticSerializationError
from sqlalchemy import inspect


def mapped_class(annotation: Any) -> type | None:
    """The first SQLAlchemy-mapped class in ``annotation`` (``list[Order]`` gives ``Order``)."""
    if isinstance(annotation, type) and inspect(annotation, raiseerr=False) is not None:
        return annotation
    for argument in get_args(annotation):
        found = mapped_class(argument)
        if found is not None:
            return found
    return None


def schema_advice(model: type, annotation: str) -> str:
    """How to expose ``model`` in a response: a schema of its own, read from the attributes."""
    name = model.__name__
    return (
        f"{name} is a SQLAlchemy model, not a response schema; declare "
        f"`class {name}Out(BaseModel, from_attributes=True)` with the fields to expose and "
        f"annotate `-> {annotation.replace(name, name + 'Out')}`; the returned {name} rows are "
        "then converted."
    )


class PageModel(BaseModel):
    """Base of the page models: holds any items, and refuses those without a schema in use."""

    # `Page[Order]` must stay a valid annotation (and may hold the rows a repository returns),
    # so the class accepts items of any type; using it as a response model or a field is refused.
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        if cls.__pydantic_complete__:  # not the class being built: a use of it
            problem = _schemaless_item(cls)
            if problem is not None:
                raise TypeError(problem)
        return handler(source)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """Like `BaseModel.model_dump`; a page of ORM rows fails with a message naming the fix."""
        with self._naming_rows():
            return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        """Like `BaseModel.model_dump_json`; a page of ORM rows fails naming the fix."""
        with self._naming_rows():
            return super().model_dump_json(**kwargs)

    @contextmanager
    def _naming_rows(self) -> Generator[None, None, None]:
        """Turn pydantic's "unknown type" error for ORM rows in ``items`` into the fix."""
        try:
            yield
        except PydanticSerializationError as error:
            items = getattr(self, "items", ())
            row = next((item for item in items if mapped_class(type(item))), None)
            if row is None:
                raise
            kind, name = type(self).__name__.partition("[")[0], type(row).__name__
            advice = schema_advice(type(row), f"{kind}[{name}]")
            msg = f"This {kind} holds {name} rows, which have no JSON form: {advice}"
            raise TypeError(msg) from error


def _schemaless_item(page: type[BaseModel]) -> str | None:
    """Why ``page`` cannot be validated or serialised (items of a class without a schema)."""
    for field in page.model_fields.values():
        model = mapped_class(field.annotation)
        if model is not None:
            advice = schema_advice(model, page.__name__)
            return f"{page.__name__} cannot be a response model or a field: {advice}"
    unknown = _instance_check(page.__pydantic_core_schema__, page)
    if unknown is None:
        return None
    return (
        f"{page.__name__} cannot be a response model or a field: {unknown.__name__} has no "
        "pydantic schema; page a pydantic model (or another type pydantic can serialise)."
    )


def _instance_check(schema: Any, page: type) -> type | None:
    """The class of the first bare ``isinstance`` check (an arbitrary type) in ``page``'s schema.

    Models and dataclasses inside it are not searched: they serialise as they were declared.
    """
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "is-instance" and "serialization" not in schema:
            return schema["cls"]  # type: ignore[no-any-return]
        if kind in {"model", "dataclass"} and schema.get("cls") is not page:
            return None
        values: Any = schema.values()
    elif isinstance(schema, list | tuple):
        values = schema
    else:
        return None
    return next((c for v in values if (c := _instance_check(v, page)) is not None), None)
