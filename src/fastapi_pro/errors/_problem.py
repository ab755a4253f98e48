"""The RFC 9457 problem document: its schema, its media type and its response class."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"
"""The media type of RFC 9457 problem documents."""

# Stable codes and titles per status: Python renames some phrases between versions
# (422 became "Unprocessable Content" in 3.13), and clients must be able to rely on ours.
_OVERRIDES = {
    422: ("unprocessable_entity", "Unprocessable Entity"),
    413: ("content_too_large", "Content Too Large"),
}


def _phrase_code(status: int) -> tuple[str, str]:
    if status in _OVERRIDES:
        return _OVERRIDES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return ("http_error", "HTTP Error")
    code = "".join(c if c.isalnum() else "_" for c in phrase.lower()).strip("_")
    return (code.replace("__", "_"), phrase)


_STATUS_TEXT = {status: _phrase_code(status) for status in range(400, 600)}


def status_code_and_title(status: int) -> tuple[str, str]:
    """Return the default machine code and title for an HTTP status, e.g. ``("not_found", ...)``."""
    return _STATUS_TEXT.get(status) or _phrase_code(status)


class ProblemResponse(JSONResponse):
    """A JSON response served as ``application/problem+json``."""

    media_type = PROBLEM_MEDIA_TYPE


class ProblemDetail(BaseModel):
    """An RFC 9457 problem document, as fastapi-pro renders every error.

    Extension members beyond the ones listed are allowed.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "Order 42 does not exist.",
                    "code": "not_found",
                    "request_id": "6f1c2a8e0b7d4c3fa9e2d1b0c4a7f8e6",
                }
            ]
        },
    )

    type: str = Field("about:blank", description="A URI reference identifying the problem type.")
    title: str = Field(description="A short, human-readable summary of the problem type.")
    status: int = Field(ge=100, le=599, description="The HTTP status code.")
    detail: str | None = Field(None, description="An explanation specific to this occurrence.")
    instance: str | None = Field(None, description="A URI reference for this occurrence.")
    code: str = Field(description="A stable, machine-readable error code.")
    request_id: str | None = Field(None, description="The request id, for support and logs.")


class ValidationErrorItem(BaseModel):
    """One failed check of a request: where, what and why."""

    pointer: str = Field(
        description="A JSON Pointer (as a URI fragment) to the failing location, "
        "for example `#/body/items/0/price` or `#/query/limit`."
    )
    detail: str = Field(description="What is wrong, in words.")
    type: str = Field(description="A machine-readable error type, such as `missing`.")


class ValidationProblemDetail(ProblemDetail):
    """A problem document for a request that failed validation, with one item per error."""

    errors: list[ValidationErrorItem]


def problem_body(
    status: int,
    code: str,
    title: str,
    *,
    detail: str | None = None,
    type_uri: str | None = None,
    instance: str | None = None,
    request_id: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a problem document as a plain dict, in the member order of RFC 9457."""
    body: dict[str, Any] = {"type": type_uri or "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body["code"] = code
    if request_id is not None:
        body["request_id"] = request_id
    if extensions:
        body.update(extensions)
    return body
