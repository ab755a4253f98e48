"""API keys: a visible prefix and id plus a secret, stored only as an HMAC-SHA256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from fastapi_pro.auth._errors import DEFAULT_REALM, InvalidApiKeyError
from fastapi_pro.auth._principal import Principal
from fastapi_pro.settings import MIN_HMAC_KEY_BYTES

MAX_API_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What is stored for one API key: never the key itself, only its digest."""

    key_id: str
    digest: str
    subject: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    name: str = ""
    expires_at: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ApiKeyStore(Protocol):
    """Looks API keys up by their public id."""

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """Return the record of this key id, or ``None``."""
        ...


class InMemoryApiKeyStore:
    """An `ApiKeyStore` in memory, for tests and small deployments."""

    def __init__(self, records: Iterable[ApiKeyRecord] = ()) -> None:
        self._records = {record.key_id: record for record in records}

    def add(self, record: ApiKeyRecord) -> None:
        """Store (or replace) a record."""
        self._records[record.key_id] = record

    def remove(self, key_id: str) -> None:
        """Forget a key: it stops working at once."""
        self._records.pop(key_id, None)

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """See `ApiKeyStore.get`."""
        return self._records.get(key_id)


class ApiKeys:
    """Generate and verify API keys of the form ``{prefix}_{key_id}_{secret}``.

    Only ``HMAC-SHA256(pepper, secret)`` is stored, so a leaked table reveals no usable key; the
    comparison is constant-time.

    Args:
        store: Where records are looked up.
        pepper: Server-side HMAC key, at least 32 bytes, kept out of the database.
        prefix: A visible prefix (letters and digits) that secret scanners can match.
        realm: The realm of the ``WWW-Authenticate`` challenge on failure.

    Raises:
        ValueError: If the pepper is shorter than 32 bytes or the prefix is not alphanumeric.
    """

    def __init__(
        self,
        store: ApiKeyStore,
        *,
        pepper: str | bytes,
        prefix: str = "fpk",
        realm: str = DEFAULT_REALM,
    ) -> None:
        raw = pepper.encode() if isinstance(pepper, str) else pepper
        if len(raw) < MIN_HMAC_KEY_BYTES:
            msg = f"The API key pepper is {len(raw)} bytes; it needs at least {MIN_HMAC_KEY_BYTES}."
            raise ValueError(msg)
        if not prefix.isalnum():
            msg = f"The API key prefix {prefix!r} must be letters and digits only."
            raise ValueError(msg)
        self.store = store
        self.prefix = prefix
        self.realm = realm
        self._pepper = raw

    def _digest(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def generate(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        name: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiKeyRecord]:
        """Make a new key; return it (show it once, never store it) and the record to store."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id=key_id,
            digest=self._digest(secret),
            subject=subject,
            scopes=frozenset(scopes),
            roles=frozenset(roles),
            name=name,
            expires_at=expires_at,
        )
        return f"{self.prefix}_{key_id}_{secret}", record

    async def authenticate(self, key: str) -> Principal:
        """Verify a presented key and return its `Principal`.

        Raises:
            InvalidApiKeyError: If the key is malformed, unknown, wrong or expired.
        """
        parts = key.split("_", 2) if len(key) <= MAX_API_KEY_LENGTH else []
        if len(parts) != 3 or parts[0] != self.prefix:  # noqa: PLR2004 - prefix, id, secret
            raise InvalidApiKeyError(self.realm)
        _, key_id, secret = parts
        record = await self.store.get(key_id)
        expected = record.digest if record is not None else "0" * 64
        matches = hmac.compare_digest(self._digest(secret), expected)
        if record is None or not matches:
            raise InvalidApiKeyError(self.realm)
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise InvalidApiKeyError(self.realm)
        return Principal(
            subject=record.subject,
            scopes=record.scopes,
            roles=record.roles,
            token_id=record.key_id,
            method="api_key",
        )
