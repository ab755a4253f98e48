"""Dependencies: `CurrentPrincipal`, `CurrentUser[User]`, scopes and roles (HTTP and WebSocket)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, NoReturn, TypeAlias, TypeVar

from fastapi import Depends, Security
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from fastapi_pro.auth._auth import INSTALLED, Auth
from fastapi_pro.auth._errors import (
    InsufficientScopeError,
    InvalidApiKeyError,
    InvalidTokenError,
    MissingCredentialsError,
    TokenStoreUnavailableError,
    name_scheme,
)
from fastapi_pro.auth._openapi import API_KEY_SCHEME, BEARER_SCHEME
from fastapi_pro.auth._principal import Principal
from fastapi_pro.errors import AppError, declare_problems

UserT = TypeVar("UserT")
logger = logging.getLogger("fastapi_pro.auth")

_CACHE = "fastapi_pro.principal"
_ROLE = "role:"


@functools.cache
def _warn_api_keys_disabled() -> None:
    logger.warning(
        "A request sent an API key to a route that accepts them, but API keys are not enabled: "
        "Auth(..., api_keys=ApiKeys(...))."
    )


def _fail(connection: HTTPConnection, error: AppError) -> NoReturn:
    auth = Auth.of(connection)
    auth.refused(error)
    name_scheme(error, auth.scheme)
    if connection.scope["type"] == "websocket":
        raise WebSocketException(WS_1008_POLICY_VIOLATION, reason=error.title) from error
    raise error


def _bearer(connection: HTTPConnection) -> str | None:
    """The access token of the ``Authorization`` header, if it uses an accepted scheme."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    auth = INSTALLED.find(connection)  # BearerToken also serves apps without an Auth
    accepted = auth.accepts_scheme(scheme) if auth is not None else scheme.lower() == "bearer"
    return token if accepted and token else None


def enforce_grants(
    connection: HTTPConnection, principal: Principal, required: Sequence[str]
) -> None:
    """Refuse the request unless ``principal`` holds every grant in ``required``.

    ``required`` holds scopes, and roles as ``role:<name>``: what ``SecurityScopes.scopes``
    carries under `require_scopes` and `require_roles`. The auth dependencies call it; so can
    a dependency that finds the principal its own way (a test double, an override of
    `current_principal`), to keep those requirements enforced. Needs the app's `Auth`.

    Raises:
        InsufficientScopeError: 403 ``insufficient_scope`` naming the missing grants, reported
            to the failure listeners; on a WebSocket, a `WebSocketException` closing with 1008.
    """
    missing = [need for need in required if not _holds(principal, need)]
    if missing:
        _fail(connection, InsufficientScopeError(missing, Auth.of(connection).realm))


def _holds(principal: Principal, grant: str) -> bool:
    if grant.startswith(_ROLE):
        return grant.removeprefix(_ROLE) in principal.roles
    return grant in principal.scopes


class _BearerScheme(SecurityBase):
    """The ``Authorization: Bearer`` scheme, documented as an HTTP bearer (JWT) scheme."""

    def __init__(self) -> None:
        self.model = HTTPBearer(bearerFormat="JWT")
        self.scheme_name = BEARER_SCHEME


class BearerToken(_BearerScheme):
    """Reads ``Authorization: Bearer <token>``; documented as an HTTP bearer (JWT) scheme.

    Calling it returns the raw token, or ``None`` when none was sent. With an `Auth`
    installed, it reads any of ``Auth(..., schemes=...)`` instead of ``Bearer`` alone.
    """

    async def __call__(self, connection: HTTPConnection) -> str | None:
        """Return the bearer token, or ``None`` when none was sent."""
        return _bearer(connection)


class BearerPrincipal(_BearerScheme):
    """The bearer scheme as a dependency that yields the verified `Principal` in one step.

    Verification happens once per request, however many dependencies ask; scopes and roles
    required through ``Security(..., scopes=...)`` are checked on every use.

    Args:
        required: Without credentials, fail with 401 (``True``) or yield ``None``.
    """

    def __init__(self, *, required: bool) -> None:
        super().__init__()
        self.required = required

    async def __call__(
        self, security_scopes: SecurityScopes, connection: HTTPConnection
    ) -> Principal | None:
        """Return the caller's `Principal` (or ``None`` when optional and anonymous)."""
        principal = await _principal_of(connection)
        if principal is None:
            if self.required:
                _fail(connection, MissingCredentialsError(Auth.of(connection).realm))
            return None
        if security_scopes.scopes:
            enforce_grants(connection, principal, security_scopes.scopes)
        return principal


async def _principal_of(connection: HTTPConnection) -> Principal | None:
    """The bearer token's principal, verified once per request and kept in its scope."""
    if _CACHE in connection.scope:
        cached: Principal | None = connection.scope[_CACHE]
        return cached
    token = _bearer(connection)
    principal = None
    if token is not None:
        auth = Auth.of(connection)
        try:
            principal = await auth.authenticate(token)
        except InvalidTokenError as error:
            _fail(connection, error)
    connection.scope[_CACHE] = principal
    return principal


async def verified_principal(connection: HTTPConnection) -> Principal | None:
    """The request's bearer-token principal, verified once per request; ``None`` without one.

    For code that runs before the auth dependencies and wants to know the caller (a rate
    limit's key): the principal is kept in the request's scope, so the dependency that reads
    the token later does not verify it again. A token that does not verify gives ``None``
    here, without an error or a failure report; the auth dependency then refuses it.
    """
    if _CACHE in connection.scope:
        cached: Principal | None = connection.scope[_CACHE]
        return cached
    token = _bearer(connection)
    if token is None:
        return None
    try:
        principal = await Auth.of(connection).authenticate(token)
    except AppError:  # an invalid token, or a denylist that cannot be read
        return None
    connection.scope[_CACHE] = principal
    return principal


class ApiKeyHeader(SecurityBase):
    """Reads the ``X-API-Key`` header; documented as an API-key scheme."""

    def __init__(self, name: str = "X-API-Key") -> None:
        self.model = APIKey(**{"in": APIKeyIn.header}, name=name)
        self.scheme_name = API_KEY_SCHEME
        self.name = name

    async def __call__(self, connection: HTTPConnection) -> str | None:
        """Return the API key, or ``None`` when none was sent."""
        return connection.headers.get(self.name) or None


bearer_token = BearerToken()
api_key_header = ApiKeyHeader()


def _denylist_outage(app: Any) -> tuple[type[AppError], ...]:
    """With a denylist checked on every request, its store's outage is a 503 of any route."""
    auth = INSTALLED.find(app)
    return (TokenStoreUnavailableError,) if auth is not None and auth.check_denylist else ()


current_principal = declare_problems(
    MissingCredentialsError,
    InvalidTokenError,
    scoped=[InsufficientScopeError],
    per_app=_denylist_outage,
)(BearerPrincipal(required=True))
"""The dependency behind `CurrentPrincipal`: 401 without valid credentials, 403 without scopes."""
optional_principal = declare_problems(
    InvalidTokenError, scoped=[InsufficientScopeError], per_app=_denylist_outage
)(BearerPrincipal(required=False))
"""The dependency behind `OptionalPrincipal`: ``None`` without credentials, 401 for bad ones."""


@declare_problems(
    MissingCredentialsError,
    InvalidTokenError,
    InvalidApiKeyError,
    scoped=[InsufficientScopeError],
    per_app=_denylist_outage,
)
async def api_key_or_bearer_principal(
    security_scopes: SecurityScopes,
    connection: HTTPConnection,
    token: Annotated[str | None, Depends(bearer_token)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The principal of an ``X-API-Key`` header or else of a bearer token."""
    auth = Auth.of(connection)
    if api_key is not None:
        if auth.api_keys is None:  # no key can be valid; say so to the client, not with a 500
            _warn_api_keys_disabled()
            _fail(connection, InvalidApiKeyError(auth.realm))
        try:
            principal = await auth.api_keys.authenticate(api_key)
        except AppError as error:
            _fail(connection, error)
    else:
        found = await _principal_of(connection) if token is not None else None
        if found is None:
            _fail(connection, MissingCredentialsError(auth.realm))
        principal = found
    enforce_grants(connection, principal, security_scopes.scopes)
    return principal


CurrentPrincipal = Annotated[Principal, Security(current_principal)]
"""The caller's verified `Principal`, from a bearer token; no database involved.

Expands to ``Annotated[Principal, Security(current_principal)]``; a request without a token
gets a 401 with a ``Bearer`` challenge, one with a bad token a 401 ``invalid_token``.

```python
@app.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, str]:
    return {"subject": principal.subject}
```
"""

OptionalPrincipal = Annotated[Principal | None, Security(optional_principal)]
"""The caller's `Principal`, or ``None`` when no token was sent (a bad token is still a 401)."""

ApiKeyOrBearer = Annotated[Principal, Security(api_key_or_bearer_principal)]
"""A `Principal` from an ``X-API-Key`` header or a bearer token; both schemes in OpenAPI."""


async def _loader_session(connection: HTTPConnection) -> AsyncIterator[Any]:
    # Part of every CurrentUser's graph, whatever loader the app registers later: for a loader
    # that takes a session, the request's session, open until the endpoint returns and shared
    # with SessionDep (None for a loader that takes none).
    auth = Auth.of(connection)
    if not auth.loader_takes_session:
        yield None
        return
    async with auth._open_session(connection) as session:
        yield session


_LoaderSession = Annotated[Any, Depends(_loader_session, scope="function")]


@declare_problems(InvalidTokenError)
async def current_user(
    connection: HTTPConnection, principal: CurrentPrincipal, session: _LoaderSession
) -> Any:
    """The app's user for the caller, from the registered user loader; 401 when unknown."""
    auth = Auth.of(connection)
    user = await auth.load_user(principal, session)
    if user is None:
        _fail(connection, InvalidTokenError(auth.realm))
    return user


async def optional_user(
    connection: HTTPConnection, principal: OptionalPrincipal, session: _LoaderSession
) -> Any:
    """The app's user, or ``None`` when no credentials were sent."""
    if principal is None:
        return None
    return await current_user(connection, principal, session)


CurrentUser: TypeAlias = Annotated[UserT, Depends(current_user)]
"""The caller as the app's own user type, never ``None``: ``user: CurrentUser[User]``.

The app registers ``Auth(..., user_loader=load_user)`` where
``async def load_user(principal: Principal) -> User | None``; a principal whose user is gone
gets a 401. A loader ``async def load_user(principal: Principal, session: AsyncSession)``
reads the user in the request's own session, the one `SessionDep` gives the endpoint: one
connection and one transaction per request, and the endpoint's changes to the user are
committed with the rest.
"""

OptionalUser: TypeAlias = Annotated[UserT | None, Depends(optional_user)]
"""The caller as the app's user, or ``None`` when no credentials were sent (bad ones: 401)."""


def require_scopes(*scopes: str, api_key: bool = False) -> Any:
    """A dependency that demands every one of ``scopes`` (403 ``insufficient_scope`` if not).

    Use it in ``dependencies=[...]`` or as ``Annotated[Principal, require_scopes(...)]``; the
    scopes appear in the operation's OpenAPI security requirement.

    Args:
        *scopes: Required OAuth2 scopes.
        api_key: Also accept an API key (`ApiKeyOrBearer`).
    """
    dependency = api_key_or_bearer_principal if api_key else current_principal
    return Security(dependency, scopes=list(scopes))


def require_roles(*roles: str, api_key: bool = False) -> Any:
    """A dependency that demands every one of ``roles``; listed in OpenAPI as ``role:<name>``."""
    dependency = api_key_or_bearer_principal if api_key else current_principal
    return Security(dependency, scopes=[_ROLE + role for role in roles])
