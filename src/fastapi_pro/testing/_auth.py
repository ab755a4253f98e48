"""Tokens and identities for tests: signed tokens, auth headers, acting as a user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.security import SecurityScopes
from starlette.requests import HTTPConnection

from fastapi_pro.auth import (
    Auth,
    Principal,
    api_key_or_bearer_principal,
    current_principal,
    current_user,
    enforce_grants,
    optional_principal,
    optional_user,
)


def app_auth(app: FastAPI) -> Auth:
    """The `Auth` installed on ``app``.

    Raises:
        RuntimeError: When the app has none.
    """
    return Auth.of(app)


class TokenFactory:
    """Signs access tokens with the app's own keys, exactly as its token endpoint would."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def __call__(
        self,
        subject: str = "user-1",
        *,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        ttl: timedelta | float | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """Return an access token for ``subject``.

        Args:
            subject: The ``sub`` claim.
            scopes: Granted scopes.
            roles: Granted roles.
            ttl: Lifetime (a negative one gives an expired token); the app's default if unset.
            claims: Extra claims.
        """
        lifetime = timedelta(seconds=ttl) if isinstance(ttl, int | float) else ttl
        tokens = app_auth(self._app).tokens
        if tokens.keys is None:
            msg = (
                "This app only verifies tokens an identity provider signs; the tests cannot "
                "sign one. Serve requests as a user with act_as(user, ...) instead."
            )
            raise RuntimeError(msg)
        return tokens.issue(subject, scopes=scopes, roles=roles, ttl=lifetime, claims=claims)

    def headers(
        self,
        subject: str = "user-1",
        *,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        ttl: timedelta | float | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a token made as by calling the factory.

        The header names the app's preferred scheme (`Auth.scheme`), ``Bearer`` by default.
        """
        token = self(subject, scopes=scopes, roles=roles, ttl=ttl, claims=claims)
        return {"Authorization": f"{app_auth(self._app).scheme} {token}"}


def _principal_dependency(principal: Principal) -> Any:
    async def principal_override(
        security_scopes: SecurityScopes, connection: HTTPConnection
    ) -> Principal:
        if security_scopes.scopes:  # scopes and roles are still enforced
            enforce_grants(connection, principal, security_scopes.scopes)
        return principal

    return principal_override


class ActAs:
    """Makes requests run as a given user, without tokens, until the test ends."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def __call__(
        self,
        user: Any,
        *,
        subject: str | None = None,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
    ) -> Principal:
        """Serve ``CurrentUser``/``OptionalUser`` as ``user`` and the principals as its identity.

        Scope and role requirements are still checked against ``scopes`` and ``roles``.

        Args:
            user: What ``CurrentUser[...]`` gives the endpoint.
            subject: The principal's subject; ``str(user.id)`` when the user has an ``id``.
            scopes: Granted scopes.
            roles: Granted roles.

        Returns:
            The `Principal` the endpoints see.
        """
        if subject is None:
            identifier = getattr(user, "id", None)
            subject = str(identifier) if identifier is not None else "test-user"
        principal = Principal(
            subject=subject, scopes=frozenset(scopes), roles=frozenset(roles), method="bearer"
        )
        resolve = _principal_dependency(principal)

        async def the_user(security_scopes: SecurityScopes, connection: HTTPConnection) -> Any:
            if security_scopes.scopes:  # required by a dependency built on CurrentUser
                enforce_grants(connection, principal, security_scopes.scopes)
            return user

        overrides = self._app.dependency_overrides
        for dependency in (current_principal, optional_principal, api_key_or_bearer_principal):
            overrides[dependency] = resolve
        overrides[current_user] = the_user
        overrides[optional_user] = the_user
        return principal

    def anonymous(self) -> None:
        """Stop acting as anyone: requests authenticate as they normally would."""
        overrides = self._app.dependency_overrides
        for dependency in (
            current_principal,
            optional_principal,
            api_key_or_bearer_principal,
            current_user,
            optional_user,
        ):
            overrides.pop(dependency, None)
