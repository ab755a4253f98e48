"""Reading the ``Idempotency-Key`` header, and the fingerprint of the request it comes with."""

from __future__ import annotations

import hashlib
import json
import re

from fastapi_pro.idempotency._errors import InvalidIdempotencyKeyError

_ALLOWED = re.compile(r"[!#-\[\]-~]+")
"""Visible ASCII except ``"`` and ``\\``: what a structured-field string holds unescaped."""


def parse_key(raw: str, max_length: int) -> str:
    """The key in ``raw``: a bare token, or the draft's structured-field quoted string.

    Raises:
        InvalidIdempotencyKeyError: For an empty or too long key, or one with characters
            outside visible ASCII, or a double quote or backslash.
    """
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # noqa: PLR2004 - the two quotes
        key = key[1:-1]
    if not key or len(key) > max_length or _ALLOWED.fullmatch(key) is None:
        msg = (
            f"The Idempotency-Key header must be 1 to {max_length} visible ASCII characters"
            " (without '\"' or '\\'), optionally in double quotes."
        )
        raise InvalidIdempotencyKeyError(msg)
    return key


def fingerprint(method: str, route: str, target: bytes, body: bytes) -> str:
    """The sha256 (hex) of the method, route template, raw path and query, and canonical body.

    A JSON body is canonical when its keys are sorted and its whitespace dropped, so a retry
    that serialises the same object differently matches; any other body counts byte for byte.
    """
    digest = hashlib.sha256()
    for part in (method.encode(), route.encode(), target, _canonical(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
