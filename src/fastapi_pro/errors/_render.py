"""The renderer seam: the typed error the handlers build, and what turns it into a response.

The handlers decide everything about an error (its status, code, the field errors of a
malformed or invalid request, the masking of a 500, the request id, ``WWW-Authenticate``,
``Retry-After`` and ``Allow``); an `ErrorRenderer` decides only the shape of the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from fastapi_pro._shared.state import AppSlot
from fastapi_pro.errors._problem import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetail,
    ValidationProblemDetail,
    problem_body,
)
from fastapi_pro.errors._validation import FieldError

VALIDATION_FAILED = "validation_failed"
"""The ``code`` of a request that failed FastAPI's validation."""


@dataclass(frozen=True, slots=True)
class Problem:
    """An error as the handlers hand it to an `ErrorRenderer`.

    The handlers have already decided all of it: a 500's text is not here, the request id is.
    """

    status: int
    """The HTTP status the handlers chose."""
    code: str
    """The stable machine-readable code (``not_found``, ``validation_failed``, ...)."""
    title: str
    """A short summary of the problem type."""
    detail: str | None = None
    """An explanation of this occurrence, when there is one to show."""
    type_uri: str | None = None
    """A URI identifying the problem type; ``None`` for ``about:blank``."""
    instance: str | None = None
    """A URI reference for this occurrence."""
    request_id: str | None = None
    """The request id (also sent in the request-id header)."""
    errors: tuple[FieldError, ...] = ()
    """The failed checks of an invalid or malformed request, or those an `AppError` carried."""
    extensions: Mapping[str, Any] = field(default_factory=dict)
    """Further JSON members, such as an `AppError`'s ``extensions``."""
    data: Any = None
    """The structured (non-text) ``detail`` an ``HTTPException`` was raised with."""


class ErrorRenderer:
    """Turns a `Problem` into a response body; subclass it to serve another error shape.

    A subclass implements `body` and names the pydantic models that describe its bodies, so the
    OpenAPI document describes the shape the API sends. Headers and the status stay with the
    handlers; only the status of a failed validation is the renderer's (`validation_status`).

    Args:
        validation_status: The status of a request that failed validation (a 4xx).

    Raises:
        ValueError: If ``validation_status`` is not a client-error status.
    """

    media_type: ClassVar[str] = "application/json"
    """The ``Content-Type`` of every error response."""
    error_model: ClassVar[type[BaseModel]]
    """Describes, in OpenAPI, the body of every error but a validation failure."""
    validation_model: ClassVar[type[BaseModel]]
    """Describes, in OpenAPI, the body of a request that failed validation."""

    def __init__(self, *, validation_status: int = 422) -> None:
        if not 400 <= validation_status <= 499:  # noqa: PLR2004
            msg = f"validation_status must be a 4xx status, not {validation_status!r}."
            raise ValueError(msg)
        self.validation_status = validation_status

    def body(self, problem: Problem) -> Any:
        """The JSON body of ``problem``'s response; every subclass implements it."""
        raise NotImplementedError

    def response(self, problem: Problem, headers: Mapping[str, str] | None = None) -> Response:
        """The response for ``problem``, with its status and ``headers``."""
        return JSONResponse(
            self.body(problem),
            status_code=problem.status,
            headers=headers,
            media_type=self.media_type,
        )


def _item(error: FieldError) -> dict[str, Any]:
    item = {"pointer": error.pointer, "detail": error.message, "type": error.type}
    if error.input is not None:
        item["input"] = error.input
    return item


def _extensions(problem: Problem) -> dict[str, Any]:
    members = dict(problem.extensions)
    if problem.data is not None:
        members["data"] = problem.data
    if problem.errors:
        members["errors"] = [_item(error) for error in problem.errors]
    return members


class ProblemDetailsRenderer(ErrorRenderer):
    """RFC 9457 problem details, ``application/problem+json`` (the default).

    Field errors become an ``errors`` member of ``{pointer, detail, type}`` items.
    """

    media_type = PROBLEM_MEDIA_TYPE
    error_model = ProblemDetail
    validation_model = ValidationProblemDetail

    def body(self, problem: Problem) -> dict[str, Any]:
        """The problem document, in the member order of RFC 9457."""
        return problem_body(
            problem.status,
            problem.code,
            problem.title,
            detail=problem.detail,
            type_uri=problem.type_uri,
            instance=problem.instance,
            request_id=problem.request_id,
            extensions=_extensions(problem),
        )


RENDERER: AppSlot[ErrorRenderer] = AppSlot(
    "fastapi_pro_error_renderer", ErrorRenderer, missing="install_error_handlers() was not called."
)


def renderer_of(app: Any) -> ErrorRenderer:
    """The renderer ``app``'s error handlers use; problem details when it has none installed.

    For responses sent outside the handlers (a middleware's refusal), in the app's error shape.
    """
    return RENDERER.find(app) or _DEFAULT


_DEFAULT = ProblemDetailsRenderer()
