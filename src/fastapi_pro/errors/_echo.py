"""Client input inside error messages: short, printable and quoted, whatever was sent."""

from __future__ import annotations

MAX_ECHO_CHARS = 40
"""The most characters of client input an error message repeats."""

MAX_MESSAGE_CHARS = 300
"""The most characters of a validation message (a custom validator's may hold input)."""

MAX_INPUT_CHARS = 100
"""The most characters, as JSON, of a submitted value echoed in a validation error."""

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)  # control, format (bidi overrides), separators, surrogates, unassigned
    if code <= 0xFF:  # noqa: PLR2004
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"  # noqa: PLR2004


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending with ``…`` when something was cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def quote_input(value: object, *, limit: int = MAX_ECHO_CHARS) -> str:
    """Quote a value the client sent, for an error message: bounded and safe to show.

    The value (``str()`` of it, if it is not a string) is cut to ``limit`` characters, with
    ``…`` and its full length when it was longer; quotes, backslashes and every character
    that is not printable (newlines, control and bidirectional formatting characters) are
    escaped; the result is in double quotes.

    Example:
        ```python
        quote_input("name")  # '"name"'
        quote_input("x" * 60_000)  # '"xxxx…" (60000 characters)', with 40 x's
        raise BadRequestError(f"Cannot sort by {quote_input(field)}.")
        ```

    Args:
        value: What the client sent.
        limit: The most characters of it to keep.
    """
    text = value if isinstance(value, str) else str(value)
    shown = "".join(map(_escape, text[:limit]))
    if len(text) <= limit:
        return f'"{shown}"'
    return f'"{shown}…" ({len(text)} characters)'
