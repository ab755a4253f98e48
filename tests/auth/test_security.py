"""Hostile tokens: every one is a 401 (403 for scopes) with an RFC 6750 challenge, none a 500."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from fastapi_pro.auth import Auth, KeyRing, Principal, Tokens
from tests.auth.helpers import (
    AUDIENCE,
    ISSUER,
    SIGNING,
    b64,
    bearer,
    claims,
    client_for,
    load_user,
    make_app,
    make_tokens,
    sign,
    unsigned,
)

PUBLIC_PEM = SIGNING.verify_key.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def hs256_with_public_key() -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": SIGNING.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(PUBLIC_PEM, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def tampered_signature() -> str:
    head, body, signature = sign(claims()).split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return ".".join([head, body, signature[:10] + flipped + signature[11:]])


def tampered_payload() -> str:
    head, _, signature = sign(claims()).split(".")
    return ".".join([head, b64(json.dumps(claims(sub="bob")).encode()), signature])


async def refresh_token_of_alice() -> str:
    auth = Auth(make_tokens(), user_loader=load_user)
    pair = await auth.login(Principal("alice"))
    return pair.refresh_token


HOSTILE = {
    "alg-none": lambda: unsigned({"alg": "none", "typ": "at+jwt", "kid": "main"}, claims()),
    "alg-none-no-kid": lambda: unsigned({"alg": "none", "typ": "at+jwt"}, claims()),
    "hs256-signed-with-rs256-public-key": hs256_with_public_key,
    "expired": lambda: sign(claims(exp=int(time.time()) - 10)),
    "not-yet-valid": lambda: sign(claims(nbf=int(time.time()) + 600)),
    "issued-in-the-future": lambda: sign(claims(iat=int(time.time()) + 600)),
    "wrong-audience": lambda: sign(claims(aud="another-api")),
    "wrong-issuer": lambda: sign(claims(iss="https://evil.example.com")),
    "missing-exp": lambda: sign(claims(exp=None)),
    "missing-sub": lambda: sign(claims(sub=None)),
    "missing-iat": lambda: sign(claims(iat=None)),
    "non-string-sub": lambda: sign(claims(sub=42)),
    "bad-signature": tampered_signature,
    "tampered-payload": tampered_payload,
    "unknown-kid": lambda: sign(claims(), kid="who-knows"),
    "no-typ": lambda: sign(claims(), typ=None),
    "refresh-typ-on-access": lambda: sign(claims(), typ="refresh+jwt"),
    "oversized": lambda: sign(claims(padding="x" * 10_000)),
    "malformed-base64": lambda: "eyJ!!!.@@@.###",
    "malformed-json": lambda: f"{b64(b'{not json')}.{b64(b'{}')}.{b64(b'sig')}",
    "json-array-header": lambda: f"{b64(b'[1,2]')}.{b64(b'{}')}.{b64(b'sig')}",
    "two-segments": lambda: "abc.def",
    "non-ascii-garbage": lambda: "\u00e9\u00e8\u4e2d\u6587.\u0416.\U0001f600",
    "unknown-crit-header": lambda: sign(claims(), crit=["exp-ext"], **{"exp-ext": 1}),
    "kid-not-a-string": lambda: unsigned({"alg": "RS256", "typ": "at+jwt", "kid": 7}, claims()),
    "empty-token": lambda: "..",
}


def single_key_app() -> FastAPI:
    tokens = Tokens(KeyRing(SIGNING), issuer=ISSUER, audience=AUDIENCE)
    return make_app(Auth(tokens, user_loader=load_user))


@pytest.mark.parametrize("ring", ["rotating-ring", "single-key"])
@pytest.mark.parametrize("forge", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_token_is_a_401_invalid_token_problem(
    forge: object, ring: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = forge()  # type: ignore[operator]
    app = make_app() if ring == "rotating-ring" else single_key_app()
    async with client_for(app) as client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}".encode()})

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    body = response.json()
    assert body["code"] == "invalid_token"
    assert body["detail"] == "The access token is invalid or has expired."
    assert token not in response.text
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(record.__dict__)


async def test_a_refresh_token_is_not_an_access_token() -> None:
    refresh = await refresh_token_of_alice()
    async with client_for(make_app()) as client:
        response = await client.get("/me", headers=bearer(refresh))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_an_access_token_is_not_a_refresh_token() -> None:
    auth = Auth(make_tokens(), user_loader=load_user)
    access = (await auth.login(Principal("alice"))).access_token

    with pytest.raises(Exception, match="invalid or has expired"):
        await auth.refresh(access)


async def test_a_reused_rotated_refresh_token_revokes_the_family() -> None:
    auth = Auth(make_tokens(), user_loader=load_user)
    first = await auth.login(Principal("alice"))
    second = await auth.refresh(first.refresh_token)

    with pytest.raises(Exception, match="invalid or has expired"):
        await auth.refresh(first.refresh_token)  # the thief (or the victim) replays it
    with pytest.raises(Exception, match="invalid or has expired"):
        await auth.refresh(second.refresh_token)  # the whole family is gone


async def test_tokens_signed_by_a_rotated_out_verification_key_still_verify() -> None:
    from tests.auth.helpers import OLD  # noqa: PLC0415 - the older key of the ring

    async with client_for(make_app()) as client:
        response = await client.get("/me", headers=bearer(sign(claims(), key=OLD)))

    assert response.status_code == 200


async def test_missing_credentials_get_a_challenge_without_error_code() -> None:
    async with client_for(make_app()) as client:
        missing = await client.get("/me")
        other_scheme = await client.get("/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
        empty = await client.get("/me", headers={"Authorization": "Bearer "})

    for response in (missing, other_scheme, empty):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
        assert response.json()["code"] == "unauthorized"


async def test_a_valid_token_passes() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/me", headers=bearer(sign(claims(scope="a b"))))

    assert response.json() == {"subject": "alice", "scopes": ["a", "b"]}


async def test_leeway_accepts_small_clock_skew() -> None:
    from datetime import timedelta  # noqa: PLC0415 - only this test needs it

    app = make_app(Auth(make_tokens(leeway=timedelta(seconds=30)), user_loader=load_user))
    token = sign(claims(exp=int(time.time()) - 5))
    async with client_for(app) as client:
        assert (await client.get("/me", headers=bearer(token))).status_code == 200


def test_short_hmac_keys_are_refused_at_startup() -> None:
    from fastapi_pro.auth import Key, KeyConfigError  # noqa: PLC0415 - local to this check

    with pytest.raises(KeyConfigError, match="needs at least 32"):
        Key.hmac("short-secret")
