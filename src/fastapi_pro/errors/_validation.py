"""Turn FastAPI's validation errors into problem items with JSON Pointers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REDACTED = "[redacted]"

_SENSITIVE = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|authorization|credential|private[-_]?key"
    r"|cookie|session|otp|pin|cvv|card[-_]?number",
    re.IGNORECASE,
)


def json_pointer(loc: Sequence[str | int]) -> str:
    """Render an error location as a JSON Pointer URI fragment, e.g. ``#/body/items/0``."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in loc)
    return "#/" + "/".join(parts)


def redact(value: Any) -> Any:
    """Return ``value`` with the values of sensitive-looking keys replaced, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and _SENSITIVE.search(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _is_sensitive_loc(loc: Sequence[str | int]) -> bool:
    return any(isinstance(part, str) and _SENSITIVE.search(part) for part in loc)


def error_items(
    errors: Iterable[Mapping[str, Any]], *, include_input: bool
) -> list[dict[str, Any]]:
    """Convert pydantic/FastAPI error dicts to ``{pointer, detail, type}`` items.

    Args:
        errors: The ``errors()`` of a validation exception.
        include_input: Add the submitted value as ``input``, with sensitive fields redacted.
    """
    items = []
    for error in errors:
        loc = error.get("loc", ())
        item: dict[str, Any] = {
            "pointer": json_pointer(loc),
            "detail": str(error.get("msg", "Invalid value.")),
            "type": str(error.get("type", "value_error")),
        }
        if include_input and "input" in error:
            item["input"] = REDACTED if _is_sensitive_loc(loc) else redact(error["input"])
        items.append(item)
    return items
