"""The exception tree every fastapi-pro block raises.

```
AppError                        500 internal_server_error
├── BadRequestError             400 bad_request
├── AuthenticationError         401 unauthorized          (WWW-Authenticate)
├── PermissionDeniedError       403 forbidden
├── NotFoundError               404 not_found
├── ConflictError               409 conflict
├── PreconditionFailedError     412 precondition_failed
├── UnprocessableEntityError    422 unprocessable_entity
├── RateLimitedError            429 too_many_requests     (Retry-After)
└── ServiceUnavailableError     503 service_unavailable   (Retry-After)
```

Subclass any of them to give a more precise ``code``, ``title`` or ``type_uri``::

    class OrderNotFoundError(NotFoundError):
        code = "order_not_found"
        title = "Order not found"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar

from fastapi_pro.errors._validation import FieldError

RESERVED_MEMBERS = frozenset(
    {"type", "title", "status", "detail", "instance", "code", "request_id"}
)
"""Problem members that the renderer owns; extensions may not use these names."""


def _checked_extensions(
    extensions: Mapping[str, Any] | None, errors: Sequence[FieldError]
) -> dict[str, Any]:
    members = dict(extensions or {})
    reserved = RESERVED_MEMBERS | {"errors"} if errors else RESERVED_MEMBERS
    clashes = reserved.intersection(members)
    if clashes:
        msg = f"Extension members {sorted(clashes)} clash with standard problem members."
        raise ValueError(msg)
    return members


def _checked_errors(errors: Sequence[object]) -> tuple[FieldError, ...]:
    checked = tuple(error for error in errors if isinstance(error, FieldError))
    if len(checked) != len(errors):
        msg = "errors must be FieldError items."
        raise TypeError(msg)
    return checked


class AppError(Exception):
    """Root of the tree: an error that renders as an RFC 9457 problem document.

    Args:
        detail: A human-readable explanation of this occurrence, shown to the client (except on
            a plain 500, whose detail is only logged).
        code: A machine-readable code overriding the class's ``code`` for this occurrence.
        extensions: Extra JSON members added to the problem document.
        headers: Extra response headers.
        instance: A URI reference identifying this occurrence.
        errors: The fields at fault, as `FieldError` items (``email``: "has already been
            taken"); rendered like a failed validation's.

    Raises:
        ValueError: If an extension member uses a name the problem document reserves (or
            ``errors`` when field errors are given too).
        TypeError: If an item of ``errors`` is not a `FieldError`.
    """

    status: ClassVar[int] = 500
    """The HTTP status code."""
    code: str = "internal_server_error"
    """A stable, machine-readable code that clients can branch on."""
    title: ClassVar[str] = "Internal Server Error"
    """A short summary of the problem type, the same for every occurrence."""
    type_uri: ClassVar[str | None] = None
    """A URI identifying the problem type; ``None`` derives it (``about:blank`` by default)."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        instance: str | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extensions: dict[str, Any] = _checked_extensions(extensions, errors)
        self.errors: tuple[FieldError, ...] = _checked_errors(errors)
        self.headers: dict[str, str] = dict(headers or {})
        self.instance = instance

    def __repr__(self) -> str:
        return f"{type(self).__name__}(detail={self.detail!r}, code={self.code!r})"


class BadRequestError(AppError):
    """The request is malformed or asks for something that cannot be understood (400)."""

    status = 400
    code = "bad_request"
    title = "Bad Request"


DEFAULT_CHALLENGE = 'Bearer realm="api"'
"""The challenge of a 401 on an app without `Auth`: the one `Auth` sends with its default realm."""


class AuthenticationError(AppError):
    """The request lacks valid credentials (401); carries a ``WWW-Authenticate`` challenge.

    Args:
        detail: See `AppError`.
        www_authenticate: The challenge sent in the ``WWW-Authenticate`` header; when omitted,
            the error handlers send the app's own: that of its `Auth` (``Bearer
            realm="..."``), or `DEFAULT_CHALLENGE` when it has none.
        **kwargs: Passed on to `AppError`.
    """

    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(
        self, detail: str | None = None, *, www_authenticate: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        if www_authenticate is not None:
            self.headers.setdefault("WWW-Authenticate", www_authenticate)


class PermissionDeniedError(AppError):
    """The caller is known but not allowed to do this (403)."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFoundError(AppError):
    """The resource does not exist, or the caller may not know that it does (404)."""

    status = 404
    code = "not_found"
    title = "Not Found"


class ConflictError(AppError):
    """The request conflicts with the current state of the resource (409)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailedError(AppError):
    """A precondition such as ``If-Match`` or an expected version did not hold (412)."""

    status = 412
    code = "precondition_failed"
    title = "Precondition Failed"


class UnprocessableEntityError(AppError):
    """The request is well formed but its content breaks a rule (422)."""

    status = 422
    code = "unprocessable_entity"
    title = "Unprocessable Entity"


def format_retry_after(retry_after: float | datetime) -> str:
    """Format a ``Retry-After`` value: whole seconds (rounded up) or an HTTP-date.

    Raises:
        ValueError: If a delay is negative or not finite, or a date has no time zone.
    """
    if isinstance(retry_after, datetime):
        if retry_after.tzinfo is None:
            msg = "Retry-After dates must be timezone-aware."
            raise ValueError(msg)
        return format_datetime(retry_after.astimezone(UTC), usegmt=True)
    if not math.isfinite(retry_after) or retry_after < 0:
        msg = f"Retry-After must be a non-negative number of seconds, not {retry_after!r}."
        raise ValueError(msg)
    return str(math.ceil(retry_after))


class _RetryableError(AppError):
    """An error after which the client may try again, optionally after ``Retry-After``."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: float | datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detail, **kwargs)
        if retry_after is not None:
            self.headers["Retry-After"] = format_retry_after(retry_after)


class RateLimitedError(_RetryableError):
    """The caller sent too many requests (429).

    Args:
        detail: See `AppError`.
        retry_after: Seconds to wait, or the moment to retry at; sent as ``Retry-After``.
        **kwargs: Passed on to `AppError`.
    """

    status = 429
    code = "too_many_requests"
    title = "Too Many Requests"


class ServiceUnavailableError(_RetryableError):
    """A dependency is down or overloaded; the request may succeed later (503).

    Args:
        detail: See `AppError`.
        retry_after: Seconds to wait, or the moment to retry at; sent as ``Retry-After``.
        **kwargs: Passed on to `AppError`.
    """

    status = 503
    code = "service_unavailable"
    title = "Service Unavailable"
