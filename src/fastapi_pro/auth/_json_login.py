"""The JSON login body a token endpoint accepts beside the OAuth2 form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]
"""Keys leading from the body's top-level object to a string field, e.g. ``("user", "email")``."""


@dataclass(frozen=True)
class JsonLogin:
    """Where a JSON login body carries the identifier and the password.

    The token endpoint then also takes ``application/json`` and hands the two strings to the
    same ``authenticate(identifier, password)`` as the form's ``username`` and ``password``.
    Whether the identifier is an email, a username or either is for ``authenticate`` to decide.

    Args:
        identifier: Path of the identifier, e.g. ``("user", "email")`` for
            ``{"user": {"email": ..., "password": ...}}``.
        password: Path of the password.
    """

    identifier: Path = ("username",)
    password: Path = ("password",)

    def __post_init__(self) -> None:
        """Refuse empty or clashing paths at start-up, not on the first login."""
        if not self.identifier or not self.password or self.identifier == self.password:
            msg = f"JsonLogin needs two distinct, non-empty paths; got {self!r}."
            raise ValueError(msg)

    def credentials(self, body: bytes) -> dict[str, str]:
        """Read ``{"username": ..., "password": ...}`` from a JSON body.

        Raises:
            ValueError: If the body is not JSON or lacks either string; the message names the
                fields, never their values.
        """
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep
            msg = "The request body is not valid JSON."
            raise ValueError(msg) from error
        found = {
            "username": _at(document, self.identifier),
            "password": _at(document, self.password),
        }
        if not all(found.values()):
            msg = f"{_dotted(self.identifier)} and {_dotted(self.password)} are required strings."
            raise ValueError(msg)
        return {name: str(value) for name, value in found.items()}

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the body, for the OpenAPI document."""
        root: dict[str, Any] = {"title": "JSON login", "type": "object"}
        _require(root, self.identifier, {"type": "string", "minLength": 1})
        _require(root, self.password, {"type": "string", "format": "password", "minLength": 1})
        return root


def _at(document: object, path: Path) -> str | None:
    """The non-empty string at ``path`` in ``document``, or ``None``."""
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document if isinstance(document, str) and document else None


def _require(node: dict[str, Any], path: Path, leaf: dict[str, Any]) -> None:
    """Add ``path`` to the object schema ``node`` as a required property ending in ``leaf``."""
    for key in path[:-1]:
        node = _required_property(node, key, {"type": "object"})
    _required_property(node, path[-1], leaf)


def _required_property(node: dict[str, Any], key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The property ``key`` of ``node``, added with ``schema`` and marked required if new."""
    required: list[str] = node.setdefault("required", [])
    if key not in required:
        required.append(key)
    properties: dict[str, Any] = node.setdefault("properties", {})
    child: dict[str, Any] = properties.setdefault(key, schema)
    return child


def _dotted(path: Path) -> str:
    return ".".join(path)
