"""Auth errors: RFC 6750's 401 and 403, and the 503 of an unreachable token store."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi_pro.errors import (
    AppError,
    AuthenticationError,
    PermissionDeniedError,
    ServiceUnavailableError,
)

DEFAULT_REALM = "api"


def bearer_challenge(realm: str, error: str | None = None, scope: Iterable[str] = ()) -> str:
    """Build a ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3)."""
    parts = [f'realm="{realm}"']
    if error is not None:
        parts.append(f'error="{error}"')
    scopes = " ".join(scope)
    if scopes:
        parts.append(f'scope="{scopes}"')
    return "Bearer " + ", ".join(parts)


def name_scheme(error: AppError, scheme: str) -> None:
    """Make the ``Bearer`` challenge ``error`` carries name ``scheme`` instead, params unchanged."""
    challenge = error.headers.get("WWW-Authenticate")
    if challenge is None or scheme == "Bearer":
        return
    name, space, params = challenge.partition(" ")
    if name == "Bearer":
        error.headers["WWW-Authenticate"] = scheme + space + params


class MissingCredentialsError(AuthenticationError):
    """No credentials were sent (401, a challenge without an error code)."""

    code = "unauthorized"

    def __init__(self, realm: str = DEFAULT_REALM) -> None:
        super().__init__("Authentication is required.", www_authenticate=bearer_challenge(realm))


class InvalidTokenError(AuthenticationError):
    """The token is malformed, expired, revoked or not ours (401 ``invalid_token``).

    The response never says which check failed, nor echoes the token.
    """

    code = "invalid_token"
    title = "Invalid token"

    def __init__(self, realm: str = DEFAULT_REALM) -> None:
        super().__init__(
            "The access token is invalid or has expired.",
            www_authenticate=bearer_challenge(realm, "invalid_token"),
        )


class InvalidApiKeyError(AuthenticationError):
    """The API key is unknown, expired or wrong (401)."""

    code = "invalid_api_key"
    title = "Invalid API key"

    def __init__(self, realm: str = DEFAULT_REALM) -> None:
        super().__init__(
            "The API key is invalid or has expired.",
            www_authenticate=bearer_challenge(realm, "invalid_token"),
        )


class InsufficientScopeError(PermissionDeniedError):
    """The credentials lack a required scope or role (403 ``insufficient_scope``)."""

    code = "insufficient_scope"
    title = "Insufficient scope"

    def __init__(self, missing: Iterable[str], realm: str = DEFAULT_REALM) -> None:
        needed = sorted(missing)
        super().__init__(
            "The credentials do not grant what this operation requires.",
            extensions={"required": needed},
            headers={"WWW-Authenticate": bearer_challenge(realm, "insufficient_scope", needed)},
        )


class TokenStoreUnavailableError(ServiceUnavailableError):
    """The token store did not answer in time, or refused the connection (503, ``Retry-After``).

    Logins, refreshes, logouts and denylist checks need the store: they fail with this rather
    than guess, so a revoked token is never let through while the store is away.
    """

    code = "token_store_unavailable"
    title = "Token store unavailable"
