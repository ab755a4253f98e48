"""Problem details in OpenAPI: schema components, the 422 rewrite and ``problem_responses``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from fastapi_pro.errors._declared import declared_problems
from fastapi_pro.errors._exceptions import AppError
from fastapi_pro.errors._problem import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetail,
    ValidationProblemDetail,
    problem_body,
)

_REF = "#/components/schemas/"
_PROBLEM_REFS = frozenset({_REF + "ProblemDetail", _REF + "ValidationProblemDetail"})
_FASTAPI_422_REF = _REF + "HTTPValidationError"
_JSON = "application/json"


def _problem_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(ProblemDetail, "serialization"), (ValidationProblemDetail, "serialization")],
        ref_template=_REF + "{model}",
    )
    schemas: dict[str, Any] = top["$defs"]
    return schemas


def _content(ref: str) -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF + ref}}}


def _rewrite_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.get("responses", {})
    validation = responses.get("422", {}).get("content", {}).get(_JSON, {})
    if validation.get("schema", {}).get("$ref") == _FASTAPI_422_REF:
        responses["422"]["content"] = _content("ValidationProblemDetail")
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        responses.setdefault(
            "413", {"description": "Request body too large", "content": _content("ProblemDetail")}
        )
    if _JSON in body and "400" not in responses:
        responses["400"] = {
            "description": "Malformed request body",
            "content": _content("ProblemDetail"),
        }
    for response in responses.values():
        content = response.get("content", {})
        if content.get(_JSON, {}).get("schema", {}).get("$ref") in _PROBLEM_REFS:
            moved = content.pop(_JSON)
            content.setdefault(PROBLEM_MEDIA_TYPE, {}).setdefault("schema", moved["schema"])


def rewrite_openapi(schema: dict[str, Any]) -> None:
    """Document errors in an OpenAPI schema as ``application/problem+json`` problem details.

    FastAPI's generated 422 responses point to `ValidationProblemDetail`; operations with a
    request body also document a 413 for a body over the size limit, and with a JSON body a 400
    for malformed JSON; responses that reference `ProblemDetail` are served as
    ``application/problem+json``. Changes ``schema`` in place; idempotent.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_problem_schemas())
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                _rewrite_operation(operation)
    for name in ("HTTPValidationError", "ValidationError"):  # the second is used by the first
        if name in components and f'"{_REF}{name}"' not in json.dumps(schema):
            del components[name]


def _example(error: type[AppError]) -> dict[str, Any]:
    value = problem_body(error.status, error.code, error.title, type_uri=error.type_uri)
    return {"summary": error.title, "value": value}


def _merge_problems(responses: dict[str, Any], errors: list[type[AppError]]) -> None:
    """Add ``errors`` (one status) to an operation's ``responses``, keeping what is there."""
    entry = responses.setdefault(str(errors[0].status), {"description": errors[0].title})
    media = entry.setdefault("content", {}).setdefault(PROBLEM_MEDIA_TYPE, {})
    schema = media.get("schema")
    problem = {"$ref": _REF + "ProblemDetail"}
    if schema is None:
        media["schema"] = problem
    elif schema != problem and problem not in schema.get("anyOf", []):
        media["schema"] = {"anyOf": [schema, problem]}  # e.g. a 422 not from validation
    examples = media.setdefault("examples", {})
    for error in errors:
        examples.setdefault(error.code, _example(error))


def document_declared_problems(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Add the problems declared on each route's dependencies to its operation in ``schema``.

    See `declare_problems`. Changes ``schema`` in place; idempotent.
    """
    paths = schema.get("paths", {})
    for path, method, errors in declared_problems(routes):
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for status in sorted({error.status for error in errors}):
            _merge_problems(responses, [e for e in errors if e.status == status])


def install_problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` document errors as problem details.

    See `rewrite_openapi` and `document_declared_problems`.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi
    rewritten: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not rewritten or rewritten[0] != id(schema):
            rewrite_openapi(schema)
            document_declared_problems(schema, app.routes)
            rewritten[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Document the problems a route may return, for its ``responses=`` argument.

    Example:
        ```python
        @app.get("/orders/{order_id}", responses=problem_responses(NotFoundError))
        async def get_order(order_id: int) -> Order: ...
        ```

    Args:
        *errors: `AppError` subclasses; several with one status share an entry, with one
            example each.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = responses.setdefault(
            error.status,
            {
                "model": ProblemDetail,
                "description": error.title,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF + "ProblemDetail"}}},
            },
        )
        examples = entry["content"][PROBLEM_MEDIA_TYPE].setdefault("examples", {})
        examples[error.code] = _example(error)
    return responses
