"""Issue and verify JWTs: secure defaults, typed tokens, keys looked up by ``kid``."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import timedelta
from typing import Any

import jwt

from fastapi_pro.auth._errors import DEFAULT_REALM, InvalidTokenError
from fastapi_pro.auth._keys import Key, KeyRing, KeySource
from fastapi_pro.auth._principal import Principal

ACCESS = "at+jwt"
"""``typ`` header of access tokens (RFC 9068)."""
REFRESH = "refresh+jwt"
"""``typ`` header of refresh tokens: never accepted where an access token is expected."""
MAX_TOKEN_BYTES = 8192
"""Tokens longer than this are refused before any parsing."""

_REQUIRED = ("exp", "iat", "sub")


def _names(value: object) -> frozenset[str]:
    """The strings of a JSON list claim; anything else grants nothing."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(name for name in value if isinstance(name, str))


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """``scope`` (RFC 8693), else ``scp``: a space-separated string or a list of strings."""
    raw = claims.get("scope")
    if raw is None:
        raw = claims.get("scp", "")
    return frozenset(raw.split()) if isinstance(raw, str) else _names(raw)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a `Principal` from verified claims: ``scope``/``scp`` and ``roles``."""
    jti = claims.get("jti")
    return Principal(
        subject=str(claims["sub"]),
        scopes=_scopes(claims),
        roles=_names(claims.get("roles", [])),
        claims=claims,
        token_id=jti if isinstance(jti, str) else None,
        method="bearer",
    )


def _grant_claims(scopes: Iterable[str], roles: Iterable[str]) -> dict[str, Any]:
    """``scope`` (space-separated) and ``roles``, sorted, each only when something is granted."""
    claims: dict[str, Any] = {}
    scope = " ".join(sorted(set(scopes)))
    if scope:
        claims["scope"] = scope
    role_list = sorted(set(roles))
    if role_list:
        claims["roles"] = role_list
    return claims


def _decoder(issuer: str | None, audience: str | None) -> jwt.PyJWT:
    """A pyjwt decoder that requires ``exp``, ``iat`` and ``sub``, and ``iss``/``aud`` if set."""
    return jwt.PyJWT(
        options={
            "require": list(_REQUIRED),
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
            "enforce_minimum_key_length": True,
        }
    )


def _single_key(keys: KeyRing | None, verify_with: KeySource | None) -> Key | None:
    """The ring's only key when no other source verifies: no need to read a header to pick it."""
    if verify_with is not None or keys is None or len(keys.keys) != 1:
        return None
    return keys.keys[0]


def _header(token: str) -> dict[str, Any]:
    """Read the JOSE header to pick the key; pyjwt then verifies the whole token, header included.

    pyjwt's own ``get_unverified_header`` decodes every segment, which would double the cost of
    verification.
    """
    segment = token.partition(".")[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise TypeError
    return header


class Tokens:
    """Sign and verify the service's JWTs.

    Tokens always carry ``exp``, ``iat``, ``sub`` and ``jti``; ``iss`` and ``aud`` when configured.
    Verification requires ``exp``, ``iat`` and ``sub``, checks ``iss`` and ``aud`` when configured,
    refuses tokens longer than ``max_token_bytes``, unknown ``crit`` headers, algorithms other
    than the key's, HMAC keys under 32 bytes, and a ``typ`` other than the one expected, so an
    access token and a refresh token can never stand in for each other (RFC 8725 §3.11).

    Args:
        keys: The key ring tokens are signed with (and verified by, unless ``verify_with``).
        verify_with: Another source of verification keys, e.g. an external identity provider's
            `JWKSKeySource`; then ``keys`` may be ``None`` if this service issues no tokens.
        issuer: ``iss`` to issue and require.
        audience: ``aud`` to issue and require.
        access_ttl: Lifetime of access tokens.
        refresh_ttl: Lifetime of refresh-token families.
        leeway: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        access_types: ``typ`` header values accepted for access tokens; add ``"JWT"`` for
            providers that do not set ``at+jwt``.
        max_token_bytes: Longest token accepted.
        to_principal: Maps verified claims to a `Principal`.
        realm: The realm named in ``WWW-Authenticate`` challenges.
    """

    def __init__(
        self,
        keys: KeyRing | None,
        *,
        verify_with: KeySource | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        access_ttl: timedelta = timedelta(minutes=15),
        refresh_ttl: timedelta = timedelta(days=14),
        leeway: timedelta = timedelta(0),
        access_types: Collection[str] = (ACCESS,),
        max_token_bytes: int = MAX_TOKEN_BYTES,
        to_principal: Callable[[Mapping[str, Any]], Principal] = principal_from_claims,
        realm: str = DEFAULT_REALM,
    ) -> None:
        source = verify_with or keys
        if source is None:
            msg = "Tokens needs a KeyRing to sign with, or verify_with= to verify only."
            raise ValueError(msg)
        self.keys = keys
        self.source: KeySource = source
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.leeway = leeway
        self.access_types = frozenset(access_types)
        self.max_token_bytes = max_token_bytes
        self.to_principal = to_principal
        self.realm = realm
        self._only_key = _single_key(keys, verify_with)
        self._jwt = _decoder(issuer, audience)

    def issue(
        self,
        subject: str,
        *,
        typ: str = ACCESS,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
        token_id: str | None = None,
    ) -> str:
        """Sign a token for ``subject`` with the ring's signing key.

        Raises:
            RuntimeError: If this `Tokens` has no signing key.
        """
        if self.keys is None:
            msg = "This Tokens only verifies (verify_with=); give it a KeyRing to issue tokens."
            raise RuntimeError(msg)
        now = int(time.time())
        lifetime = ttl or (self.access_ttl if typ == ACCESS else self.refresh_ttl)
        payload: dict[str, Any] = {**(claims or {})}
        payload.update(sub=subject, iat=now, exp=now + int(lifetime.total_seconds()))
        payload["jti"] = token_id or uuid.uuid4().hex
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        payload.update(_grant_claims(scopes, roles))
        key = self.keys.signing
        headers = {"typ": typ, "kid": key.kid}
        return jwt.encode(payload, key.signing_key, algorithm=key.algorithm, headers=headers)

    async def verify(self, token: str, *, typ: str = ACCESS) -> dict[str, Any]:
        """Check a token's signature and claims and return its claims.

        Raises:
            InvalidTokenError: For any failure; the reason is not disclosed.
        """
        types = self.access_types if typ == ACCESS else frozenset({typ})
        if len(token) > self.max_token_bytes:
            raise InvalidTokenError(self.realm)
        try:
            decoded = await self._decode_with_its_key(token)
            if decoded["header"].get("typ") not in types:
                raise InvalidTokenError(self.realm)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, RecursionError) as error:
            raise InvalidTokenError(self.realm) from error
        claims: dict[str, Any] = decoded["payload"]
        return claims

    async def _decode_with_its_key(self, token: str) -> dict[str, Any]:
        """Decode ``token`` with the key its ``kid`` names; header and payload, both verified.

        Raises:
            InvalidTokenError: If no key has that ``kid``.
        """
        only = self._only_key
        if only is not None:
            # One key: verify at once and check the (now authenticated) header after.
            decoded = self._decode(token, only)
            kid = decoded["header"].get("kid")
            if kid is not None and kid != only.kid:
                raise InvalidTokenError(self.realm)
            return decoded
        kid = _header(token).get("kid")
        key = await self.source.get_key(kid if isinstance(kid, str) else None)
        if key is None:
            raise InvalidTokenError(self.realm)
        return self._decode(token, key)

    def _decode(self, token: str, key: Key) -> dict[str, Any]:
        decoded: dict[str, Any] = self._jwt.decode_complete(
            token,
            key.verify_key,
            algorithms=[key.algorithm],
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
        )
        return decoded

    async def authenticate(self, token: str) -> Principal:
        """Verify an access token and return its `Principal`.

        Raises:
            InvalidTokenError: For any failure.
        """
        claims = await self.verify(token)
        try:
            return self.to_principal(claims)
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidTokenError(self.realm) from error
