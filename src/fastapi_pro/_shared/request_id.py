"""Request ids shared by the error handlers and the observability middleware.

The id of a request lives in ``scope["state"]["request_id"]`` (so ``request.state.request_id``
reads it). Whichever component meets the request first resolves it: an incoming header is kept
only when it is well formed, otherwise a new id is made.
"""

from __future__ import annotations

import random
import re

from starlette.types import Scope

DEFAULT_REQUEST_ID_HEADER = "X-Request-ID"
"""The header that carries the request id, in and out."""

MAX_REQUEST_ID_LENGTH = 128
"""Longer incoming ids are refused, so a client cannot bloat every log line."""

_VALID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,%d}" % MAX_REQUEST_ID_LENGTH, re.ASCII)  # noqa: UP031


def new_request_id() -> str:
    """Return a fresh random request id (32 hexadecimal characters).

    Request ids correlate log lines; they grant nothing, so they need to be unique, not
    unpredictable, and a pseudo-random source is several times cheaper than the OS's.
    """
    return f"{random.getrandbits(128):032x}"


def is_valid_request_id(value: str) -> bool:
    """Tell whether an incoming request id is short and made of safe characters only."""
    return _VALID.fullmatch(value) is not None


def _incoming(scope: Scope, header: bytes) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope.get("headers", ()):
        if name == header:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


def resolve_request_id(scope: Scope, header: str = DEFAULT_REQUEST_ID_HEADER) -> str:
    """Return the request id of this connection, resolving and storing it on first use.

    Args:
        scope: The ASGI connection scope.
        header: The request-id header name, matched case-insensitively.
    """
    state = scope.setdefault("state", {})
    request_id: str | None = state.get("request_id")
    if request_id is None:
        incoming = _incoming(scope, header.lower().encode("latin-1"))
        if incoming is not None and is_valid_request_id(incoming):
            request_id = incoming
        else:
            request_id = new_request_id()
        state["request_id"] = request_id
    return request_id
