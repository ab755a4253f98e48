"""Turn FastAPI's validation errors into problem items with JSON Pointers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.encoders import jsonable_encoder

from fastapi_pro.errors._echo import MAX_INPUT_CHARS, MAX_MESSAGE_CHARS, truncate

REDACTED = "[redacted]"

_SENSITIVE = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|authorization|credential|private[-_]?key"
    r"|cookie|session|otp|pin|cvv|card[-_]?number",
    re.IGNORECASE,
)


def json_pointer(loc: Sequence[str | int]) -> str:
    """Render an error location as a JSON Pointer URI fragment, e.g. ``#/body/items/0``.

    A segment longer than 100 characters (a key the client chose) is cut, ending with ``…``.
    """
    parts = (
        truncate(str(part), MAX_INPUT_CHARS).replace("~", "~0").replace("/", "~1") for part in loc
    )
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


def bounded_input(value: Any) -> Any:
    """Return a submitted value as JSON data, or the start of its JSON text when it is long."""
    data = jsonable_encoder(value)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return data if len(text) <= MAX_INPUT_CHARS else truncate(text, MAX_INPUT_CHARS)


def _is_sensitive_loc(loc: Sequence[str | int]) -> bool:
    return any(isinstance(part, str) and _SENSITIVE.search(part) for part in loc)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One failed check of a request: where (``loc``), why (``message``) and of what ``type``.

    Example:
        ```python
        FieldError(("body", "user", "email"), "has already been taken", type="taken")
        ```
    """

    loc: tuple[str | int, ...]
    """The location, as FastAPI gives it: ``("body", "items", 0, "price")``."""
    message: str
    """What is wrong, in words."""
    type: str = "value_error"
    """A machine-readable error type, such as ``missing``."""
    input: Any = None
    """The submitted value, set only when validation input is echoed (sensitive ones
    redacted)."""

    @property
    def pointer(self) -> str:
        """The location as a JSON Pointer URI fragment, such as ``#/body/items/0/price``."""
        return json_pointer(self.loc)


def error_items(errors: Iterable[Mapping[str, Any]], *, include_input: bool) -> list[FieldError]:
    """Convert pydantic/FastAPI error dicts to `FieldError` items.

    Args:
        errors: The ``errors()`` of a validation exception.
        include_input: Keep the submitted value as ``input``, with sensitive fields redacted;
            a value longer than 100 characters as JSON is cut to the start of its JSON text.
    """
    items = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        value = None
        if include_input and "input" in error:
            value = bounded_input(REDACTED if _is_sensitive_loc(loc) else redact(error["input"]))
        message = truncate(str(error.get("msg", "Invalid value.")), MAX_MESSAGE_CHARS)
        items.append(FieldError(loc, message, str(error.get("type", "value_error")), value))
    return items
