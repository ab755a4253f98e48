"""Problem details in OpenAPI: schema components, the 422 rewrite and ``problem_responses``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute

from fastapi_pro.errors._declared import declared_problems
from fastapi_pro.errors._exceptions import AppError
from fastapi_pro.errors._problem import PROBLEM_MEDIA_TYPE, ProblemDetail, problem_body
from fastapi_pro.errors._render import ErrorRenderer, Problem, ProblemDetailsRenderer

_REF = "#/components/schemas/"
_DEFAULT_REFS = (_REF + "ProblemDetail", _REF + "ValidationProblemDetail")
_FASTAPI_422_REF = _REF + "HTTPValidationError"
_JSON = "application/json"
# Unused components a rewrite leaves behind, parents before the components they use.
_PRUNABLE = ("HTTPValidationError", "ValidationError")
_PRUNABLE_DEFAULTS = ("ValidationProblemDetail", "ValidationErrorItem", "ProblemDetail")


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a renderer's errors look like in OpenAPI: a media type and two schemas."""

    renderer: ErrorRenderer
    schemas: dict[str, Any]
    error: dict[str, str]
    validation: dict[str, str]

    @classmethod
    def of(cls, renderer: ErrorRenderer) -> _Shape:
        mode: JsonSchemaMode = "serialization"
        error, validation = (renderer.error_model, mode), (renderer.validation_model, mode)
        refs, top = models_json_schema([error, validation], ref_template=_REF + "{model}")
        return cls(renderer, top["$defs"], dict(refs[error]), dict(refs[validation]))

    @property
    def is_default(self) -> bool:
        """Whether this is the problem-details shape the static documentation is written in."""
        return self.renderer.error_model is ProblemDetail

    def content(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {self.renderer.media_type: {"schema": schema}}

    def render(self, value: Any) -> Any:
        """An example problem document redrawn in this shape."""
        if self.is_default or not isinstance(value, dict) or "code" not in value:
            return value
        type_uri = value.get("type")
        problem = Problem(
            value.get("status", 500),
            value["code"],
            value.get("title", ""),
            detail=value.get("detail"),
            type_uri=None if type_uri == "about:blank" else type_uri,
        )
        return self.renderer.body(problem)


def _put(
    responses: dict[str, Any], status: int, description: str, schema: dict[str, str], shape: _Shape
) -> None:
    """Document ``schema`` for ``status``, beside any schema the response already has."""
    entry = responses.setdefault(str(status), {"description": description})
    media = entry.setdefault("content", {}).setdefault(shape.renderer.media_type, {})
    current = media.get("schema")
    if current is None:
        media["schema"] = schema
    elif current != schema and schema not in current.get("anyOf", []):
        media["schema"] = {"anyOf": [*current.get("anyOf", [current]), schema]}


def _rewrite_operation(operation: dict[str, Any], shape: _Shape) -> None:
    responses: dict[str, Any] = operation.get("responses", {})
    generated = responses.get("422", {}).get("content", {})
    if generated.get(_JSON, {}).get("schema", {}).get("$ref") == _FASTAPI_422_REF:
        del generated[_JSON]
        if not generated:
            del responses["422"]
    body = operation.get("requestBody", {}).get("content", {})
    if body or operation.get("parameters"):  # FastAPI leaves its 422 out when a route has one
        invalid = shape.renderer.validation_status
        _put(responses, invalid, "Validation Error", shape.validation, shape)
    if body:
        _put(responses, 413, "Request body too large", shape.error, shape)
    if _JSON in body:
        _put(responses, 400, "Malformed request body", shape.error, shape)
    for code, response in responses.items():
        _retarget(response.get("content", {}), shape)
        _document_headers(code, response)


_HEADERS = {
    "401": ("WWW-Authenticate", "The challenge: the scheme and realm to authenticate with."),
    "429": ("Retry-After", "Seconds to wait, or the HTTP date to retry at."),
    "503": ("Retry-After", "Seconds to wait, or the HTTP date to retry at, when known."),
}
"""The headers the error handlers send with these statuses, documented beside their bodies."""


def _document_headers(status: str, response: dict[str, Any]) -> None:
    if status in _HEADERS:
        name, description = _HEADERS[status]
        header = {"description": description, "schema": {"type": "string"}}
        response.setdefault("headers", {}).setdefault(name, header)


def _swap_refs(schema: dict[str, Any], shape: _Shape) -> dict[str, Any]:
    swap = {_DEFAULT_REFS[0]: shape.error, _DEFAULT_REFS[1]: shape.validation}
    if schema.get("$ref") in swap:
        return swap[schema["$ref"]]
    if "anyOf" not in schema:
        return schema
    items: list[dict[str, Any]] = []
    for item in (_swap_refs(item, shape) for item in schema["anyOf"]):
        if item not in items:  # two defaults may become one schema of the renderer's
            items.append(item)
    return {**schema, "anyOf": items} if len(items) > 1 else items[0]


def _is_problem(schema: dict[str, Any]) -> bool:
    items = schema.get("anyOf", [schema])
    return any(item.get("$ref") in _DEFAULT_REFS for item in items)


def _retarget(content: dict[str, Any], shape: _Shape) -> None:
    """Serve the problem documents of a response's ``content`` in the renderer's shape."""
    for media_type in (_JSON, PROBLEM_MEDIA_TYPE):
        media = content.get(media_type, {})
        if media_type == shape.renderer.media_type or not _is_problem(media.get("schema", {})):
            continue
        moved = content.pop(media_type)
        target = content.setdefault(shape.renderer.media_type, {})
        target.setdefault("schema", moved["schema"])
        target.setdefault("examples", {}).update(moved.get("examples", {}))
        target["examples"] or target.pop("examples")
    media = content.get(shape.renderer.media_type, {})
    if "schema" in media:
        media["schema"] = _swap_refs(media["schema"], shape)
    for example in media.get("examples", {}).values():
        example["value"] = shape.render(example.get("value"))


def _prune(schema: dict[str, Any], shape: _Shape) -> None:
    components = schema["components"]["schemas"]
    names = _PRUNABLE if shape.is_default else _PRUNABLE + _PRUNABLE_DEFAULTS
    for name in names:
        if name in components and f'"{_REF}{name}"' not in json.dumps(schema):
            del components[name]


def rewrite_openapi(schema: dict[str, Any], renderer: ErrorRenderer | None = None) -> None:
    """Document errors in an OpenAPI schema in the shape ``renderer`` sends.

    FastAPI's generated 422 responses point to the renderer's validation schema (under its
    `~ErrorRenderer.validation_status`); operations with a request body also document a 413
    for a body over the size limit, and with a JSON body a 400 for malformed JSON; responses
    that reference `ProblemDetail` are served in the renderer's media type and schema, their
    examples redrawn. By default (problem details) that is ``application/problem+json``.
    Changes ``schema`` in place; idempotent.
    """
    shape = _Shape.of(renderer or ProblemDetailsRenderer())
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(shape.schemas)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                _rewrite_operation(operation, shape)
    _prune(schema, shape)


def _example(error: type[AppError], shape: _Shape | None = None) -> dict[str, Any]:
    value = problem_body(error.status, error.code, error.title, type_uri=error.type_uri)
    return {"summary": error.title, "value": shape.render(value) if shape else value}


def _merge_problems(responses: dict[str, Any], errors: list[type[AppError]], shape: _Shape) -> None:
    """Add ``errors`` (one status) to an operation's ``responses``, keeping what is there."""
    status = str(errors[0].status)
    _put(responses, errors[0].status, errors[0].title, shape.error, shape)
    _document_headers(status, responses[status])
    media = responses[status]["content"][shape.renderer.media_type]
    examples = media.setdefault("examples", {})
    for error in errors:
        examples.setdefault(error.code, _example(error, shape))


def document_declared_problems(
    schema: dict[str, Any],
    routes: list[BaseRoute],
    renderer: ErrorRenderer | None = None,
    app: Any = None,
) -> None:
    """Add the problems declared on each route's dependencies to its operation in ``schema``.

    See `declare_problems`; they are documented in ``renderer``'s shape (problem details by
    default), with those that depend on ``app``'s configuration when it is given. Changes
    ``schema`` in place; idempotent.
    """
    shape = _Shape.of(renderer or ProblemDetailsRenderer())
    paths = schema.get("paths", {})
    for path, method, errors in declared_problems(routes, app):
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for status in sorted({error.status for error in errors}):
            _merge_problems(responses, [e for e in errors if e.status == status], shape)


def install_problem_openapi(app: FastAPI, renderer: ErrorRenderer | None = None) -> None:
    """Make ``app.openapi()`` document errors in ``renderer``'s shape (problem details).

    See `rewrite_openapi` and `document_declared_problems`.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi
    rewritten: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not rewritten or rewritten[0] != id(schema):
            rewrite_openapi(schema, renderer)
            document_declared_problems(schema, app.routes, renderer, app)
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
