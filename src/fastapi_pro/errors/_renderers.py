"""Error shapes besides RFC 9457: ``{"errors": {field: [...]}}`` and FastAPI's ``{"detail"}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fastapi_pro.errors._render import ErrorRenderer, Problem
from fastapi_pro.errors._validation import FieldError

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def dotted_field(error: FieldError) -> str:
    """The key of a field error: its location without ``body``/``query``/..., dot-joined.

    ``("body", "user", "email")`` gives ``user.email``; a whole-body error gives ``body``.
    """
    loc = error.loc[1:] if error.loc and error.loc[0] in _LOCATIONS else error.loc
    return ".".join(str(part) for part in loc) or str(error.loc[0] if error.loc else "body")


class FieldErrorsBody(BaseModel):
    """An error as ``{"errors": {key: [messages]}}``, keyed by field or by error code.

    An error's extension members (such as RFC 6749's ``error``) may stand beside it.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"errors": {"user.email": ["Field required"]}}]},
    )

    errors: dict[str, list[str]] = Field(
        description="Messages by field (a validation error) or by error code (any other)."
    )


class FieldErrorsRenderer(ErrorRenderer):
    """Errors as ``{"errors": {field: [messages]}}``, the shape of many published APIs.

    A request that failed validation lists its messages under each field's key; any other
    error lists its detail (or title) under its ``code``, e.g. ``{"errors": {"not_found":
    ["Article 'x' does not exist."]}}``. An error's extension members stay beside ``errors``
    (the token endpoint's RFC 6749 ``error``, a 403's ``required`` scopes).

    Args:
        validation_status: The status of a request that failed validation (422, or e.g. 400).
        key: The key of a field error; `dotted_field` by default. ``lambda e: str(e.loc[-1])``
            keys by the field's own name.
    """

    error_model = FieldErrorsBody
    validation_model = FieldErrorsBody

    def __init__(
        self, *, validation_status: int = 422, key: Callable[[FieldError], str] = dotted_field
    ) -> None:
        super().__init__(validation_status=validation_status)
        self.key = key

    def body(self, problem: Problem) -> dict[str, Any]:
        """``{"errors": {...}}`` for ``problem``."""
        if not problem.errors:
            return {
                **problem.extensions,
                "errors": {problem.code: [problem.detail or problem.title]},
            }
        grouped: dict[str, list[str]] = {}
        for error in problem.errors:
            grouped.setdefault(self.key(error), []).append(error.message)
        return {**problem.extensions, "errors": grouped}


class DetailBody(BaseModel):
    """An error as FastAPI renders it by default: ``{"detail": "Not Found"}``.

    An error's extension members (such as RFC 6749's ``error``) may stand beside it.
    """

    model_config = ConfigDict(extra="allow")

    detail: Any = Field(
        description="A message; an `HTTPException` raised with structured detail sends it as is."
    )


class DetailErrorItem(BaseModel):
    """One failed check, as FastAPI lists it."""

    loc: list[str | int] = Field(description="Where: `body`, `query`, ... then the field path.")
    msg: str = Field(description="What is wrong, in words.")
    type: str = Field(description="A machine-readable error type, such as `missing`.")
    input: Any = Field(None, description="The submitted value, when input is echoed.")


class DetailValidationBody(BaseModel):
    """A request that failed validation, as FastAPI renders it: ``{"detail": [...]}``."""

    detail: list[DetailErrorItem]


def _detail_item(error: FieldError) -> dict[str, Any]:
    item: dict[str, Any] = {"type": error.type, "loc": list(error.loc), "msg": error.message}
    if error.input is not None:
        item["input"] = error.input
    return item


class FastAPIDetailRenderer(ErrorRenderer):
    """FastAPI's own shape, ``{"detail": ...}``, for APIs whose clients already parse it.

    A failed validation sends ``{"detail": [{"type", "loc", "msg"}]}`` (with ``input`` only when
    validation input is echoed, unlike FastAPI); an ``HTTPException`` sends its ``detail`` as
    raised; any other error its detail, or its title (``{"detail": "Not Found"}``). An error's
    extension members stay beside ``detail`` (the token endpoint's RFC 6749 ``error``).
    """

    error_model = DetailBody
    validation_model = DetailValidationBody

    def body(self, problem: Problem) -> dict[str, Any]:
        """``{"detail": ...}`` for ``problem``."""
        if problem.errors:
            detail: Any = [_detail_item(error) for error in problem.errors]
        elif problem.data is not None:
            detail = problem.data
        else:
            detail = problem.detail or problem.title
        return {**problem.extensions, "detail": detail}
