"""`TokenStore`: where refresh-token families and revoked token ids live."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

RotationResult = Literal["rotated", "reused", "revoked"]
"""What `TokenStore.rotate` found.

- ``"rotated"``: the token was the family's current one; the new one replaces it.
- ``"reused"``: an older token of the family was presented; the family is now revoked.
- ``"revoked"``: the family is unknown, expired or revoked.
"""


class TokenStore(Protocol):
    """Storage for refresh-token rotation and access-token revocation; one method per operation.

    Implementations must make `rotate` atomic: of two concurrent calls with the same current
    token, exactly one returns ``"rotated"``.
    """

    async def start_family(
        self, family_id: str, subject: str, token_id: str, expires_at: datetime
    ) -> None:
        """Record a new refresh-token family whose current token is ``token_id``."""
        ...

    async def rotate(
        self, family_id: str, token_id: str, new_token_id: str, expires_at: datetime
    ) -> RotationResult:
        """Replace the family's current token ``token_id`` by ``new_token_id``, atomically."""
        ...

    async def revoke_family(self, family_id: str) -> None:
        """Revoke one family (logout of one session)."""
        ...

    async def revoke_subject(self, subject: str) -> int:
        """Revoke every family of ``subject`` (logout everywhere); return how many."""
        ...

    async def deny(self, token_id: str, expires_at: datetime) -> None:
        """Put an access token's ``jti`` on the denylist until it would expire anyway."""
        ...

    async def is_denied(self, token_id: str) -> bool:
        """Whether an access token's ``jti`` is on the denylist."""
        ...


@dataclass(slots=True)
class _Family:
    subject: str
    current: str
    expires_at: float
    revoked: bool = False


class InMemoryTokenStore:
    """A `TokenStore` in this process's memory: for tests and single-process apps."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._next_prune = 1024
        self._denied: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def start_family(
        self, family_id: str, subject: str, token_id: str, expires_at: datetime
    ) -> None:
        """See `TokenStore.start_family`; forgets expired families as the store grows."""
        if len(self._families) >= self._next_prune:  # amortised: a sweep per doubling
            now = time.time()
            self._families = {
                key: family for key, family in self._families.items() if family.expires_at > now
            }
            self._next_prune = max(1024, 2 * len(self._families))
        self._families[family_id] = _Family(subject, token_id, expires_at.timestamp())

    async def rotate(
        self, family_id: str, token_id: str, new_token_id: str, expires_at: datetime
    ) -> RotationResult:
        """See `TokenStore.rotate`."""
        async with self._lock:
            family = self._families.get(family_id)
            if family is None or family.revoked or family.expires_at <= time.time():
                return "revoked"
            if family.current != token_id:
                family.revoked = True
                return "reused"
            family.current = new_token_id
            family.expires_at = expires_at.timestamp()
            return "rotated"

    async def revoke_family(self, family_id: str) -> None:
        """See `TokenStore.revoke_family`."""
        family = self._families.get(family_id)
        if family is not None:
            family.revoked = True

    async def revoke_subject(self, subject: str) -> int:
        """See `TokenStore.revoke_subject`."""
        revoked = 0
        for family in self._families.values():
            if family.subject == subject and not family.revoked:
                family.revoked = True
                revoked += 1
        return revoked

    async def deny(self, token_id: str, expires_at: datetime) -> None:
        """See `TokenStore.deny`."""
        now = time.time()
        self._denied = {jti: until for jti, until in self._denied.items() if until > now}
        self._denied[token_id] = expires_at.timestamp()

    async def is_denied(self, token_id: str) -> bool:
        """See `TokenStore.is_denied`."""
        until = self._denied.get(token_id)
        return until is not None and until > time.time()
