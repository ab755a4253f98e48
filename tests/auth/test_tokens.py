from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from fastapi_pro.auth import (
    ACCESS,
    REFRESH,
    InvalidTokenError,
    Key,
    KeyConfigError,
    KeyRing,
    Tokens,
)
from tests.auth.helpers import AUDIENCE, ISSUER, make_tokens

SECRET = "s" * 32


@pytest.mark.parametrize(
    "key",
    [
        Key.hmac(SECRET),
        Key.hmac("t" * 48, algorithm="HS384"),
        Key.hmac("u" * 64, algorithm="HS512"),
        Key.generate("RS256"),
        Key.generate("ES256"),
        Key.generate("EdDSA"),
    ],
    ids=lambda key: key.algorithm,
)
async def test_every_algorithm_issues_and_verifies(key: Key) -> None:
    tokens = Tokens(KeyRing(key), issuer=ISSUER, audience=AUDIENCE)
    token = tokens.issue("alice", scopes=["b", "a"], roles=["staff"], claims={"tenant": "t1"})

    claims = await tokens.verify(token)
    principal = await tokens.authenticate(token)

    assert jwt.get_unverified_header(token) == {"alg": key.algorithm, "typ": ACCESS, "kid": key.kid}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 900
    assert principal.scopes == {"a", "b"}
    assert principal.roles == {"staff"}
    assert principal.claims["tenant"] == "t1"
    assert principal.token_id == claims["jti"]


async def test_refresh_and_access_types_never_mix() -> None:
    tokens = make_tokens()
    refresh = tokens.issue("alice", typ=REFRESH)
    access = tokens.issue("alice")

    assert (await tokens.verify(refresh, typ=REFRESH))["sub"] == "alice"
    with pytest.raises(InvalidTokenError):
        await tokens.verify(refresh)
    with pytest.raises(InvalidTokenError):
        await tokens.verify(access, typ=REFRESH)


async def test_external_providers_that_send_plain_jwt_typ_can_be_accepted() -> None:
    key = Key.generate("RS256")
    token = jwt.encode(
        {"sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60, "scp": ["read"]},
        key.signing_key,
        algorithm="RS256",
        headers={"kid": key.kid, "typ": "JWT"},
    )
    strict = Tokens(None, verify_with=KeyRing(key))
    lenient = Tokens(None, verify_with=KeyRing(key), access_types={"JWT", ACCESS})

    with pytest.raises(InvalidTokenError):
        await strict.verify(token)
    assert (await lenient.authenticate(token)).scopes == {"read"}
    with pytest.raises(RuntimeError, match="only verifies"):
        lenient.issue("x")


async def test_custom_ttl_and_leeway() -> None:
    tokens = make_tokens(access_ttl=timedelta(seconds=1), leeway=timedelta(0))
    token = tokens.issue("alice", ttl=timedelta(seconds=-5))

    with pytest.raises(InvalidTokenError):
        await tokens.verify(token)


def test_key_ring_rules() -> None:
    signing = Key.generate("ES256", kid="a")
    public_only = Key.from_jwk(Key.generate("RS256", kid="b").public_jwk())

    ring = KeyRing(signing, [public_only])

    assert ring.find("a") is signing
    assert ring.find("b") is public_only
    assert ring.find(None) is None  # several keys: a token must name its kid
    assert KeyRing(signing).find(None) is signing
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["a", "b"]
    with pytest.raises(KeyConfigError, match="cannot sign"):
        KeyRing(public_only)
    with pytest.raises(KeyConfigError, match="share a kid"):
        KeyRing(signing, [signing])


def test_hmac_keys_are_never_published() -> None:
    ring = KeyRing(Key.hmac(SECRET), [Key.generate("EdDSA", kid="ed")])

    assert [k["kid"] for k in ring.jwks()["keys"]] == ["ed"]
    with pytest.raises(KeyConfigError):
        Key.hmac(SECRET).public_jwk()


def test_pem_keys_load_once_and_wrong_pairs_are_refused() -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - PEM helpers

    generated = Key.generate("RS256")
    pem = generated.signing_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = generated.verify_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert Key.from_pem(pem, algorithm="RS256").kid == generated.kid
    assert Key.from_public_pem(public_pem, algorithm="RS256").signing_key is None
    with pytest.raises(KeyConfigError, match="cannot be used with ES256"):
        Key.from_pem(pem, algorithm="ES256")
    with pytest.raises(KeyConfigError, match="not a readable"):
        Key.from_pem(b"-----BEGIN nonsense", algorithm="RS256")
    with pytest.raises(KeyConfigError, match="not an HMAC algorithm"):
        Key.hmac(SECRET, algorithm="RS256")
    with pytest.raises(KeyConfigError, match="Unsupported JWK"):
        Key.from_jwk({"kty": "oct", "k": "abc"})
