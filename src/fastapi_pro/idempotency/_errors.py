"""The problems an ``Idempotency-Key`` can end in.

```text
BadRequestError (400)
 +-- IdempotencyKeyMissingError      a route that requires a key got none
 +-- InvalidIdempotencyKeyError      the key is too long, empty or has characters not allowed
UnprocessableEntityError (422)
 +-- IdempotencyKeyReusedError       the key was used with another request
ConflictError (409)
 +-- IdempotencyKeyInUseError        a request with this key is still running (Retry-After)
```
"""

from __future__ import annotations

from typing import Any

from fastapi_pro.errors import BadRequestError, ConflictError, UnprocessableEntityError


class IdempotencyKeyMissingError(BadRequestError):
    """The route requires an ``Idempotency-Key`` header and the request has none (400)."""

    code = "idempotency_key_missing"


class InvalidIdempotencyKeyError(BadRequestError):
    """The ``Idempotency-Key`` header is empty, too long, or has characters not allowed (400)."""

    code = "idempotency_key_invalid"


class IdempotencyKeyReusedError(UnprocessableEntityError):
    """The key was already used with a request of another method, route, path or body (422)."""

    code = "idempotency_key_reused"


class IdempotencyKeyInUseError(ConflictError):
    """A request with this key is still being processed; retry after ``Retry-After`` (409).

    Args:
        detail: See `fastapi_pro.errors.AppError`.
        retry_after: Whole seconds to wait, sent as ``Retry-After``.
        **kwargs: Passed on to `fastapi_pro.errors.AppError`.
    """

    code = "idempotency_key_in_use"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers["Retry-After"] = str(max(0, retry_after))
