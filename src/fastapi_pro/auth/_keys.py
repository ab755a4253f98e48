"""Signing and verification keys: loaded once, looked up by ``kid``, published as a JWKS."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from fastapi_pro.settings import MIN_HMAC_KEY_BYTES, JWTAlgorithm

_HMAC = frozenset({"HS256", "HS384", "HS512"})


class KeyConfigError(ValueError):
    """A key is unusable: too short, of the wrong type for its algorithm, or unreadable."""


@dataclass(frozen=True, slots=True)
class Key:
    """One JWT key: its id, algorithm and loaded key objects (never PEM text per request).

    Build it with `Key.hmac`, `Key.from_pem`, `Key.from_public_pem`, `Key.from_jwk` or
    `Key.generate`. A key without ``signing_key`` can only verify.
    """

    kid: str
    algorithm: str
    verify_key: Any
    signing_key: Any = None

    @property
    def is_symmetric(self) -> bool:
        """Whether this is an HMAC key (never published)."""
        return self.algorithm in _HMAC

    @classmethod
    def hmac(
        cls, secret: str | bytes, *, algorithm: JWTAlgorithm = "HS256", kid: str | None = None
    ) -> Key:
        """An HMAC key; secrets shorter than 32 bytes are refused.

        Raises:
            KeyConfigError: If the secret is too short or the algorithm is not HMAC.
        """
        raw = secret.encode() if isinstance(secret, str) else secret
        if algorithm not in _HMAC:
            msg = f"{algorithm} is not an HMAC algorithm; use Key.from_pem for asymmetric keys."
            raise KeyConfigError(msg)
        if len(raw) < MIN_HMAC_KEY_BYTES:
            msg = (
                f"The HMAC secret is {len(raw)} bytes long; {algorithm} needs at least "
                f"{MIN_HMAC_KEY_BYTES}. Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
            raise KeyConfigError(msg)
        kid = kid or hashlib.sha256(b"kid:" + raw).hexdigest()[:16]
        return cls(kid=kid, algorithm=algorithm, verify_key=raw, signing_key=raw)

    @classmethod
    def from_pem(
        cls, private_pem: str | bytes, *, algorithm: JWTAlgorithm, kid: str | None = None
    ) -> Key:
        """An asymmetric signing key from a PEM private key (the public half is derived)."""
        data = private_pem.encode() if isinstance(private_pem, str) else private_pem
        try:
            private: Any = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            msg = "The private key is not a readable, unencrypted PEM key."
            raise KeyConfigError(msg) from error
        return cls._asymmetric(private, private.public_key(), algorithm, kid)

    @classmethod
    def from_public_pem(
        cls, public_pem: str | bytes, *, algorithm: JWTAlgorithm, kid: str | None = None
    ) -> Key:
        """A verification-only key from a PEM public key."""
        data = public_pem.encode() if isinstance(public_pem, str) else public_pem
        try:
            public: Any = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as error:
            msg = "The public key is not a readable PEM key."
            raise KeyConfigError(msg) from error
        return cls._asymmetric(None, public, algorithm, kid)

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any], *, algorithm: str | None = None) -> Key:
        """A verification-only key from one JWK of a JWKS document."""
        kty = jwk.get("kty")
        algorithm = (
            algorithm
            or jwk.get("alg")
            or {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}.get(str(kty))
        )
        loaders: dict[Any, Any] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}
        if kty not in loaders or algorithm is None:
            msg = f"Unsupported JWK key type {kty!r}."
            raise KeyConfigError(msg)
        try:
            public: Any = loaders[kty].from_jwk(json.dumps(jwk))
        except Exception as error:  # pyjwt raises several types for malformed keys
            msg = "The JWK could not be loaded."
            raise KeyConfigError(msg) from error
        kid = jwk.get("kid")
        return cls._asymmetric(None, public, algorithm, str(kid) if kid else None)

    @classmethod
    def generate(cls, algorithm: JWTAlgorithm, *, kid: str | None = None) -> Key:
        """A fresh asymmetric key pair (RS256: 2048-bit RSA; ES256: P-256; EdDSA: Ed25519)."""
        private: Any
        if algorithm == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            msg = f"Key.generate makes asymmetric keys; use Key.hmac for {algorithm}."
            raise KeyConfigError(msg)
        return cls._asymmetric(private, private.public_key(), algorithm, kid)

    @classmethod
    def _asymmetric(cls, private: Any, public: Any, algorithm: str, kid: str | None) -> Key:
        expected: dict[str, type[Any]] = {
            "RS256": rsa.RSAPublicKey,
            "ES256": ec.EllipticCurvePublicKey,
            "EdDSA": ed25519.Ed25519PublicKey,
        }
        if algorithm not in expected or not isinstance(public, expected[algorithm]):
            msg = f"A {type(public).__name__} cannot be used with {algorithm}."
            raise KeyConfigError(msg)
        if algorithm == "ES256" and not isinstance(public.curve, ec.SECP256R1):
            msg = "ES256 needs a P-256 key."
            raise KeyConfigError(msg)
        if kid is None:
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            kid = hashlib.sha256(der).hexdigest()[:16]
        return cls(kid=kid, algorithm=algorithm, verify_key=public, signing_key=private)

    def public_jwk(self) -> dict[str, Any]:
        """This key's public half as a JWK (with ``kid``, ``alg`` and ``use``)."""
        if self.is_symmetric:
            msg = "HMAC keys are secret and have no public JWK."
            raise KeyConfigError(msg)
        writers: dict[str, Any] = {
            "RS256": RSAAlgorithm,
            "ES256": ECAlgorithm,
            "EdDSA": OKPAlgorithm,
        }
        jwk: dict[str, Any] = writers[self.algorithm].to_jwk(self.verify_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class KeySource(Protocol):
    """Finds the key that verifies a token, by the ``kid`` of its header."""

    async def get_key(self, kid: str | None) -> Key | None:
        """Return the key with this id (or the only key when ``kid`` is ``None``), or ``None``."""
        ...


class KeyRing:
    """One signing key and any number of verification keys (for rotation), by ``kid``.

    Args:
        signing: The key new tokens are signed with; it also verifies.
        verification: Older (or other) keys still accepted when verifying.

    Raises:
        KeyConfigError: If the signing key has no private half, or two keys share a kid.
    """

    def __init__(self, signing: Key, verification: Iterable[Key] = ()) -> None:
        if signing.signing_key is None:
            msg = f"Key {signing.kid!r} has no private half and cannot sign."
            raise KeyConfigError(msg)
        self.signing = signing
        keys = [signing, *verification]
        self._by_kid = {key.kid: key for key in keys}
        if len(self._by_kid) != len(keys):
            msg = "Two keys of the ring share a kid."
            raise KeyConfigError(msg)
        self.keys: Sequence[Key] = tuple(keys)

    def find(self, kid: str | None) -> Key | None:
        """Return the key with this id; without an id, the signing key if it is the only one."""
        if kid is None:
            return self.signing if len(self.keys) == 1 else None
        return self._by_kid.get(kid)

    async def get_key(self, kid: str | None) -> Key | None:
        """`KeySource` interface: see `find`."""
        return self.find(kid)

    def jwks(self) -> dict[str, Any]:
        """The JWKS document of the ring's asymmetric keys (HMAC keys are never published)."""
        return {"keys": [key.public_jwk() for key in self.keys if not key.is_symmetric]}
