"""Request bodies that cannot be read: too large, or JSON that is not UTF-8.

Two faults reach the client outside the exception handlers, and this middleware brings both
back to the problem shape:

- Starlette's body limit (``max_body_size`` on FastAPI apps, routers and routes) writes a
  plain-text 413 itself when a declared ``Content-Length`` is over the limit; it is replaced
  by the problem the handlers render for a chunked body over the limit.
- ``json.loads`` reads UTF-16, UTF-32, a UTF-8 byte order mark and UTF-8-encoded surrogates
  without complaint, but RFC 8259 §8.1 asks for UTF-8 without a BOM: such bodies are refused
  as ``malformed_body`` before FastAPI decodes them, like every other JSON body that cannot be
  decoded.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.middleware import body_limit
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MALFORMED_BODY_CODE = "malformed_body"
"""The code of every JSON body that cannot be decoded."""

LIMIT_SCOPE_KEY = body_limit.MAX_BODY_SIZE_SCOPE_KEY
"""Where Starlette keeps the limit that applies to the request being served."""

# Starlette has no public type for its limit's exception; an older one has none at all.
BODY_TOO_LARGE: tuple[type[Exception], ...] = tuple(
    cls for cls in (getattr(body_limit, "_RequestBodyTooLarge", None),) if cls is not None
)

_STARLETTE_413 = b"Content Too Large"
_PLAIN_TEXT = b"text/plain; charset=utf-8"
_SNIFF = 4  # RFC 4627 §3: the first four bytes tell UTF-8 from UTF-16 and UTF-32


NOT_UTF8 = "it must be UTF-8, without a byte order mark."
SURROGATE = "it holds an encoded UTF-16 surrogate, which UTF-8 does not allow."


class NotUtf8JsonError(HTTPException):
    """A JSON request body in another encoding than UTF-8, or with a byte order mark."""

    def __init__(self, reason: str) -> None:
        super().__init__(status_code=400, detail="The request body is not UTF-8 JSON.")
        self.reason = reason


Render413 = Callable[[Request], Awaitable[Response]]


def too_large_detail(scope: Scope) -> str:
    """Say which limit a body went over, when Starlette recorded it for the request."""
    limit = scope.get(LIMIT_SCOPE_KEY)
    if isinstance(limit, int):
        return f"The request body is larger than the {limit} bytes this endpoint accepts."
    return "The request body is larger than this endpoint accepts."


def _body_headers(scope: Scope) -> tuple[bool, bool]:
    """Whether the request declares a length (Starlette's own 413 needs one), and is JSON."""
    declared = is_json = False
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = True
        elif name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            is_json = media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return declared, is_json


def _not_utf8(head: bytes) -> bool:
    return head.startswith((b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")) or b"\x00" in head


# A UTF-16 surrogate encoded as if it were a character: not UTF-8, yet ``json.loads`` reads it
# (it decodes with "surrogatepass") and hands the route a string no encoder can write back.
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


class BodyProblems:
    """Pure-ASGI: the two body faults above as problems; wraps the app's whole stack."""

    def __init__(self, app: ASGIApp, render_413: Render413) -> None:
        self.app = app
        self.render_413 = render_413

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, is_json = _body_headers(scope)
        if is_json:
            receive = _checked(receive)
        if declared:  # only a declared length gets Starlette's plain-text 413
            send = self._sending(scope, receive, send)
        await self.app(scope, receive, send)

    def _sending(self, scope: Scope, receive: Receive, send: Send) -> Send:
        held: Message | None = None

        async def sending(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _plain_413(message):
                held = message  # decided by its body: Starlette's own, or the app's
                return
            if held is not None:
                start, held = held, None
                if message.get("body") == _STARLETTE_413 and not message.get("more_body"):
                    response = await self.render_413(Request(scope, receive))
                    await response(scope, receive, send)
                    return
                await send(start)
            await send(message)

        return sending


def _plain_413(message: Message) -> bool:
    if message["status"] != 413:  # noqa: PLR2004 - Content Too Large
        return False
    return any(
        name == b"content-type" and value == _PLAIN_TEXT for name, value in message["headers"]
    )


def _checked(receive: Receive) -> Receive:
    head = b""
    last = b""  # the previous chunk's last byte: a surrogate may straddle two chunks

    async def checked() -> Message:
        nonlocal head, last
        message = await receive()
        if message["type"] != "http.request":
            return message
        body: bytes = message.get("body", b"")
        if len(head) < _SNIFF:
            head += body[: _SNIFF - len(head)]
            if (len(head) >= _SNIFF or not message.get("more_body")) and _not_utf8(head):
                raise NotUtf8JsonError(NOT_UTF8)
        if _ENCODED_SURROGATE.search(last + body):
            raise NotUtf8JsonError(SURROGATE)
        last = body[-1:] or last
        return message

    return checked
