"""`Principal`: who is calling, as established from a token or an API key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AuthMethod = Literal["bearer", "api_key", "test"]
"""How a principal authenticated."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified identity of a request; needs no database to build.

    Attributes:
        subject: The ``sub`` claim (or the API key's owner).
        scopes: Granted OAuth2 scopes.
        roles: Granted roles.
        claims: Every claim of the token (empty for API keys).
        token_id: The token's ``jti`` or the API key's id.
        method: How the caller authenticated.
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)
    token_id: str | None = None
    method: AuthMethod = "bearer"

    def has_scopes(self, *scopes: str) -> bool:
        """Whether every one of ``scopes`` was granted."""
        return self.scopes.issuperset(scopes)

    def has_roles(self, *roles: str) -> bool:
        """Whether every one of ``roles`` was granted."""
        return self.roles.issuperset(roles)
