"""Exception handlers that render every error path of a FastAPI app as a problem document."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import (
    RequestValidationError,
    ResponseValidationError,
    WebSocketRequestValidationError,
)
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.status import WS_1008_POLICY_VIOLATION
from starlette.websockets import WebSocket

from fastapi_pro._shared.request_id import DEFAULT_REQUEST_ID_HEADER, resolve_request_id
from fastapi_pro._shared.stack import wrap_stack
from fastapi_pro._shared.state import CHALLENGE, ERROR_HANDLERS
from fastapi_pro.errors._allow import with_allow
from fastapi_pro.errors._body import (
    BODY_TOO_LARGE,
    MALFORMED_BODY_CODE,
    BodyProblems,
    NotUtf8JsonError,
    too_large_detail,
)
from fastapi_pro.errors._exceptions import DEFAULT_CHALLENGE, AppError
from fastapi_pro.errors._openapi import install_problem_openapi
from fastapi_pro.errors._problem import status_code_and_title
from fastapi_pro.errors._render import (
    RENDERER,
    VALIDATION_FAILED,
    ErrorRenderer,
    Problem,
    ProblemDetailsRenderer,
)
from fastapi_pro.errors._validation import FieldError, error_items

logger = logging.getLogger("fastapi_pro.errors")

_LOGGED = "_fastapi_pro_logged"
_NO_BODY = frozenset({204, 205, 304})
MAX_LISTED_ERRORS = 50
"""A 422 lists this many errors at most: a long invalid list must not make a longer answer."""
# FastAPI turns any other failure to decode a JSON body into a 400 with this text.
_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def _undecodable_body(exc: HTTPException) -> str | None:
    """Why a JSON body could not be decoded, when ``exc`` says it could not; else ``None``."""
    if isinstance(exc, NotUtf8JsonError):
        return f"The request body is not valid JSON: {exc.reason}"
    if exc.status_code != 400 or exc.detail != _FASTAPI_BODY_ERROR:  # noqa: PLR2004
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return f"The request body is not valid JSON: invalid UTF-8 at byte {cause.start}."
    if isinstance(cause, RecursionError):
        return "The request body is not valid JSON: it is nested too deeply to decode."
    if isinstance(cause, ValueError):  # e.g. an integer longer than Python converts
        return "The request body is not valid JSON."
    return None


@dataclass(frozen=True, slots=True)
class _Handlers:
    request_id_header: str
    type_base_uri: str | None
    include_input: bool
    renderer: ErrorRenderer

    def problem(
        self,
        request: Request,
        status: int,
        code: str,
        title: str,
        *,
        headers: Mapping[str, str] | None = None,
        detail: str | None = None,
        type_uri: str | None = None,
        instance: str | None = None,
        errors: tuple[FieldError, ...] = (),
        extensions: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> Response:
        """The renderer's response for this problem, with the request id header and ``headers``."""
        request_id = resolve_request_id(request.scope, self.request_id_header)
        if type_uri is None and self.type_base_uri is not None:
            type_uri = self.type_base_uri + code
        problem = Problem(
            status,
            code,
            title,
            detail,
            type_uri,
            instance,
            request_id,
            errors,
            extensions or {},
            data,
        )
        all_headers = {self.request_id_header: request_id}
        if headers:
            all_headers.update(headers)
        return self.renderer.response(problem, all_headers)

    async def app_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
        detail = exc.detail
        if exc.status == 500:  # noqa: PLR2004 - a plain 500's text stays server-side
            _log_unhandled(request, exc, self.request_id_header)
            detail = None
        return self.problem(
            request,
            exc.status,
            exc.code,
            exc.title,
            detail=detail,
            type_uri=exc.type_uri,
            instance=exc.instance,
            extensions=jsonable_encoder(exc.extensions),
            errors=exc.errors,
            headers=_with_challenge(request, exc),
        )

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
        body_fault = await self._body_fault(request, exc)
        if body_fault is not None:
            return body_fault
        status = exc.status_code
        if status in _NO_BODY or status < 200:  # noqa: PLR2004 - informational statuses
            return Response(status_code=status, headers=exc.headers)
        code, title = status_code_and_title(status)
        detail, data = None, None
        raw: Any = exc.detail  # FastAPI's HTTPException allows any JSON-able detail
        if isinstance(raw, str):
            detail = raw if raw != title else None
        elif raw is not None:
            data = jsonable_encoder(raw)
        if status >= 500:  # noqa: PLR2004 - server errors keep their text server-side
            detail, data = None, None
        headers = with_allow(request, exc.headers) if status == 405 else exc.headers  # noqa: PLR2004
        return self.problem(request, status, code, title, detail=detail, data=data, headers=headers)

    async def _body_fault(self, request: Request, exc: HTTPException) -> Response | None:
        """The problem of a body that could not be read (413, ``malformed_body``), if it is one."""
        undecodable = _undecodable_body(exc)
        if undecodable is not None:
            return self._malformed(request, undecodable)
        if isinstance(exc, BODY_TOO_LARGE):
            return await self.too_large(request)
        return None

    async def request_validation(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
        errors = exc.errors()
        if len(errors) == 1 and errors[0].get("type") == "json_invalid":
            return self._malformed_json(request, errors[0])
        items = error_items(errors[:MAX_LISTED_ERRORS], include_input=self.include_input)
        count = len(errors)
        detail = f"The request failed validation ({count} error{'s' if count != 1 else ''})."
        if count > MAX_LISTED_ERRORS:
            detail = detail[:-2] + f"; the first {MAX_LISTED_ERRORS} are listed)."
        status = self.renderer.validation_status
        title = status_code_and_title(status)[1]
        return self.problem(
            request, status, VALIDATION_FAILED, title, detail=detail, errors=tuple(items)
        )

    def _malformed_json(self, request: Request, error: Mapping[str, Any]) -> Response:
        loc = error.get("loc", ())
        position = loc[1] if len(loc) > 1 else 0
        reason = str(error.get("ctx", {}).get("error", "invalid JSON"))
        detail = f"The request body is not valid JSON: {reason} at character {position}."
        return self._malformed(request, detail)

    def _malformed(self, request: Request, detail: str) -> Response:
        """One shape for every JSON body that cannot be decoded."""
        item = FieldError(("body",), detail, "json_invalid")
        return self.problem(
            request, 400, MALFORMED_BODY_CODE, "Bad Request", detail=detail, errors=(item,)
        )

    async def too_large(self, request: Request) -> Response:
        """The 413 of a body over the ``max_body_size`` that applies to its route."""
        code, title = status_code_and_title(413)
        return self.problem(request, 413, code, title, detail=too_large_detail(request.scope))

    async def response_validation(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ResponseValidationError)  # noqa: S101 - registered for it only
        request_id = resolve_request_id(request.scope, self.request_id_header)
        where = [{"loc": e.get("loc"), "type": e.get("type")} for e in exc.errors()]
        logger.error(
            "Response of %s %s failed validation (request id %s): %s",
            request.method,
            request.url.path,
            request_id,
            where,
            extra={"request_id": request_id},
        )
        code, title = status_code_and_title(500)
        return self.problem(request, 500, code, title)

    async def unhandled(self, request: Request, exc: Exception) -> Response:
        _log_unhandled(request, exc, self.request_id_header)
        code, title = status_code_and_title(500)
        return self.problem(request, 500, code, title)

    async def websocket_validation(self, websocket: WebSocket, exc: Exception) -> None:
        # The default handler puts the errors, submitted values included, in the close reason.
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="Request validation failed.")


def _log_unhandled(request: Request, exc: BaseException, header: str) -> None:
    request_id = resolve_request_id(request.scope, header)
    logger.error(
        "Unhandled %s while serving %s %s (request id %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    with contextlib.suppress(AttributeError):  # exceptions with __slots__ cannot be marked
        setattr(exc, _LOGGED, True)
    span = trace.get_current_span()  # the request's server span, when tracing is on
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))


class _AlreadyLoggedFilter(logging.Filter):
    """Drop a server's own traceback record for an exception the handler already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, _LOGGED, False)


def _install_log_filter() -> None:
    server_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AlreadyLoggedFilter) for f in server_logger.filters):
        server_logger.addFilter(_AlreadyLoggedFilter())


def _with_challenge(request: Request, error: AppError) -> Mapping[str, str]:
    """``error``'s headers; a 401 without a challenge gets the app's (`AuthenticationError`)."""
    if error.status != 401 or "WWW-Authenticate" in error.headers:  # noqa: PLR2004
        return error.headers
    challenge = CHALLENGE.find(request) or DEFAULT_CHALLENGE
    return {**error.headers, "WWW-Authenticate": challenge}


def install_error_handlers(
    app: FastAPI,
    *,
    request_id_header: str = DEFAULT_REQUEST_ID_HEADER,
    type_base_uri: str | None = None,
    include_validation_input: bool = False,
    openapi: bool = True,
    renderer: ErrorRenderer | None = None,
) -> None:
    """Render every error of ``app`` as an RFC 9457 ``application/problem+json`` response.

    Covers `AppError`, Starlette/FastAPI `HTTPException` (unknown routes, 405 with ``Allow``),
    request validation (422 with JSON Pointers), JSON bodies that cannot be decoded (400
    ``malformed_body``: bad syntax, not UTF-8, a byte order mark, nested too deeply), bodies
    over FastAPI's ``max_body_size`` (413 ``content_too_large``), response validation and any
    unhandled exception (a 500 without exception text, logged once with its request id).

    Args:
        app: The application to install the handlers on.
        request_id_header: The header that carries the request id in and out.
        type_base_uri: When set, a problem's ``type`` is this prefix followed by its ``code``.
        include_validation_input: Echo submitted values in validation errors (values of
            sensitive-looking fields such as ``password`` are still redacted). Off by default.
        openapi: Document errors in the app's OpenAPI schema, in the renderer's shape.
        renderer: Another shape for the error bodies (`FieldErrorsRenderer`,
            `FastAPIDetailRenderer` or your own `ErrorRenderer`); problem details by default.
            Statuses, headers, the request id and 500 masking stay the same.

    Raises:
        RuntimeError: If the handlers were already installed on this app.
    """
    ERROR_HANDLERS.set_once(app)
    renderer = renderer or ProblemDetailsRenderer()
    RENDERER.put(app, renderer)
    handlers = _Handlers(request_id_header, type_base_uri, include_validation_input, renderer)
    app.add_exception_handler(AppError, handlers.app_error)
    app.add_exception_handler(HTTPException, handlers.http_exception)
    app.add_exception_handler(RequestValidationError, handlers.request_validation)
    app.add_exception_handler(ResponseValidationError, handlers.response_validation)
    app.add_exception_handler(WebSocketRequestValidationError, handlers.websocket_validation)
    app.add_exception_handler(Exception, handlers.unhandled)
    _install_log_filter()
    wrap_stack(app, lambda inner: BodyProblems(inner, handlers.too_large))
    if openapi:
        install_problem_openapi(app, renderer)
