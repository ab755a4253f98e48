"""`Auth`: the app's token service, user loader, stores and refresh-token rotation."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fastapi_pro._shared.state import CHALLENGE, AppSlot
from fastapi_pro.auth._api_keys import ApiKeys
from fastapi_pro.auth._errors import InvalidTokenError, bearer_challenge
from fastapi_pro.auth._openapi import install_auth_openapi
from fastapi_pro.auth._principal import Principal
from fastapi_pro.auth._store import InMemoryTokenStore, TokenStore
from fastapi_pro.auth._tokens import REFRESH, Tokens
from fastapi_pro.errors import AppError

_REFUSALS = frozenset({400, 401, 403, 429})

UserLoader = Callable[[Principal], Awaitable[Any]] | Callable[[Principal, Any], Awaitable[Any]]
"""``async (principal) -> user | None``, or ``async (principal, session) -> user | None``: finds
the app's user for a verified identity; the second form reads it in the request's own session."""

RequestSession = Callable[[HTTPConnection | None], AbstractAsyncContextManager[Any]]
"""Opens the request's unit of work (or joins it when the request has one open already); a
unit of work of its own without a connection. `Database.request_session` is one."""

PrincipalReloader = Callable[[Principal], Awaitable[Principal | None]]
"""``async (principal) -> principal | None``: the identity's current grants, or ``None`` to
refuse it (a deleted or disabled account)."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token, its lifetime in seconds, and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class Auth:
    """Everything the auth dependencies need, owned by one app.

    Example:
        ```python
        auth = Auth(Tokens(KeyRing(Key.hmac(secret))), user_loader=load_user)
        auth.install(app)
        ```

    Args:
        tokens: Issues and verifies JWTs.
        user_loader: ``async (Principal) -> User | None`` for `CurrentUser`, or
            ``async (Principal, session) -> User | None`` to read the user in the request's
            own session (the one `SessionDep` gives the endpoint), which ``request_session``
            opens.
        request_session: Opens or joins the request's session for a loader that takes one:
            ``database.request_session``.
        store: Refresh-token families and the access-token denylist; in memory by default
            (use `RedisTokenStore` when several processes serve the app).
        api_keys: Enables API keys for `ApiKeyOrBearer` and ``require_scopes(api_key=True)``.
        check_denylist: Also refuse access tokens whose ``jti`` was revoked (one store lookup
            per request).
        reload_principal: Called at every refresh with the identity the refresh token
            carries; returns its current grants, or ``None`` to refuse the refresh and revoke
            the session. A refresh never widens grants: the new tokens get the scopes and
            roles present both in the refresh token and in what this returns, so a demoted
            user loses a role at the next refresh, not when the session expires. Without it,
            a refresh is refused when ``user_loader`` no longer finds the user.
        schemes: The ``Authorization`` schemes that carry an access token, compared without
            regard to case; the first is the one challenges name and OpenAPI documents.
            ``("Token", "Bearer")`` takes ``Authorization: Token <jwt>`` as well as bearer
            tokens.
    """

    def __init__(
        self,
        tokens: Tokens,
        *,
        user_loader: UserLoader | None = None,
        store: TokenStore | None = None,
        api_keys: ApiKeys | None = None,
        check_denylist: bool = False,
        reload_principal: PrincipalReloader | None = None,
        request_session: RequestSession | None = None,
        schemes: Sequence[str] = ("Bearer",),
    ) -> None:
        self.tokens = tokens
        self.schemes = _checked_schemes(schemes)
        self._accepted = frozenset(scheme.lower() for scheme in self.schemes)  # per request
        self.user_loader = user_loader
        self.loader_takes_session = user_loader is not None and _takes_session(user_loader)
        if self.loader_takes_session and request_session is None:
            msg = (
                "The user loader takes a session, but Auth has nowhere to open one: "
                "Auth(..., request_session=database.request_session)."
            )
            raise ValueError(msg)
        self.request_session = request_session
        self.reload_principal = reload_principal
        self.store: TokenStore = store or InMemoryTokenStore()
        self.api_keys = api_keys
        self.check_denylist = check_denylist
        self._failure_listeners: list[Callable[[str], None]] = []

    def add_failure_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with the problem code of every request the auth block refuses.

        The codes are the auth errors' own: ``unauthorized`` (no credentials),
        ``invalid_token``, ``invalid_api_key``, ``insufficient_scope``, and the token
        endpoint's ``invalid_grant``, ``invalid_request`` and ``unsupported_grant_type``,
        and ``too_many_requests`` when the app's login guard (a `RateLimiter`'s login
        limits) refuses a login attempt.
        A token store that does not answer is an outage, not a refusal: it is not reported.
        `Metrics.track_auth` counts them.
        """
        self._failure_listeners.append(listener)

    def refused(self, error: AppError) -> None:
        """Report ``error`` to the failure listeners if it refuses the client (400/401/403/429)."""
        if error.status in _REFUSALS:
            for listener in self._failure_listeners:
                listener(error.code)

    @property
    def scheme(self) -> str:
        """The preferred ``Authorization`` scheme: the one challenges name."""
        return self.schemes[0]

    def accepts_scheme(self, scheme: str) -> bool:
        """Whether ``scheme`` is one of `schemes`, compared without regard to case."""
        return scheme.lower() in self._accepted

    @property
    def realm(self) -> str:
        """The realm of ``WWW-Authenticate`` challenges."""
        return self.tokens.realm

    def install(
        self, app: FastAPI, *, token_url: str | None = None, jwks_path: str | None = None
    ) -> None:
        """Register on ``app`` for the auth dependencies.

        Args:
            app: The application.
            token_url: The password-flow token endpoint; documents the bearer scheme as an
                OAuth2 password flow, so Swagger UI's Authorize button logs in.
            jwks_path: Serve the key ring's public keys as a JWKS document at this path.
        """
        INSTALLED.put(app, self)
        # The challenge of the 401s the app raises itself: the preferred scheme and this realm.
        challenge = bearer_challenge(self.realm).removeprefix("Bearer")
        CHALLENGE.put(app, self.scheme + challenge)
        install_auth_openapi(app, token_url, self.scheme)
        keys = self.tokens.keys
        if jwks_path is not None and keys is not None:
            document = keys.jwks()

            async def jwks() -> dict[str, Any]:
                return document

            app.add_api_route(jwks_path, jwks, methods=["GET"], include_in_schema=False)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncGenerator[None]:
        """`install` on ``app`` for the duration of its lifespan."""
        self.install(app)
        yield

    @classmethod
    def of(cls, connection: HTTPConnection | Starlette) -> Auth:
        """Return the `Auth` installed on the app serving ``connection`` (or on an app).

        Raises:
            RuntimeError: If none was installed.
        """
        return INSTALLED.get(connection)

    async def authenticate(self, token: str) -> Principal:
        """Verify a bearer access token (and the denylist when enabled).

        Raises:
            InvalidTokenError: For any failure.
        """
        principal = await self.tokens.authenticate(token)
        jti = principal.token_id
        if self.check_denylist and jti is not None and await self.store.is_denied(jti):
            raise InvalidTokenError(self.realm)
        return principal

    async def load_user(self, principal: Principal, session: Any = None) -> Any:
        """Return the app's user for ``principal`` (``None`` when unknown).

        A loader that takes a session gets ``session``, or else a session of its own.

        Raises:
            RuntimeError: If no user loader was registered.
        """
        loader: Any = self.user_loader
        if loader is None:
            msg = "CurrentUser needs a user loader: Auth(..., user_loader=load_user)."
            raise RuntimeError(msg)
        if not self.loader_takes_session:
            return await loader(principal)
        if session is not None:
            return await loader(principal, session)
        async with self._open_session(None) as own:
            return await loader(principal, own)

    def _open_session(self, connection: HTTPConnection | None) -> AbstractAsyncContextManager[Any]:
        assert self.request_session is not None  # noqa: S101 - __init__ checked it
        return self.request_session(connection)

    # -- refresh-token families ---------------------------------------------------------------

    def _pair(self, principal: Principal, family: str, token_id: str) -> TokenPair:
        grants: dict[str, Any] = {"scopes": principal.scopes, "roles": principal.roles}
        access = self.tokens.issue(principal.subject, **grants)
        refresh = self.tokens.issue(
            principal.subject, typ=REFRESH, token_id=token_id, claims={"fam": family}, **grants
        )
        return TokenPair(access, refresh, int(self.tokens.access_ttl.total_seconds()))

    def _family_expiry(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.tokens.refresh_ttl.total_seconds(), UTC)

    async def login(self, principal: Principal) -> TokenPair:
        """Start a refresh-token family for ``principal`` and return its first token pair.

        Raises:
            RuntimeError: If this `Auth` only verifies tokens signed elsewhere.
        """
        if self.tokens.keys is None:  # before anything is written to the store
            msg = "This Auth only verifies tokens signed elsewhere (verify_with=); no logins."
            raise RuntimeError(msg)
        family, token_id = uuid.uuid4().hex, uuid.uuid4().hex
        await self.store.start_family(family, principal.subject, token_id, self._family_expiry())
        return self._pair(principal, family, token_id)

    async def _refresh_claims(self, refresh_token: str) -> dict[str, Any]:
        claims = await self.tokens.verify(refresh_token, typ=REFRESH)
        if not isinstance(claims.get("fam"), str) or not isinstance(claims.get("jti"), str):
            raise InvalidTokenError(self.realm)
        return claims

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: exchange a refresh token for a new pair; the old one stops working.

        Presenting an already-rotated refresh token revokes its whole family, so a stolen
        token is useless once either party has used it.

        Raises:
            InvalidTokenError: If the token is invalid, rotated already, or its family revoked.
        """
        claims = await self._refresh_claims(refresh_token)
        # The identity is checked before the rotation: if the check fails on the way (the
        # user database is down), the client still holds a valid token and may retry.
        principal = await self._current(self.tokens.to_principal(claims))
        if principal is None:  # the account is gone or disabled: end this session for good
            await self.store.revoke_family(claims["fam"])
            raise InvalidTokenError(self.realm)
        new_id = uuid.uuid4().hex
        result = await self.store.rotate(
            claims["fam"], claims["jti"], new_id, self._family_expiry()
        )
        if result != "rotated":
            raise InvalidTokenError(self.realm)
        return self._pair(principal, claims["fam"], new_id)

    async def _current(self, principal: Principal) -> Principal | None:
        """``principal`` with today's grants (never more than it had), or ``None``."""
        if self.reload_principal is not None:
            current = await self.reload_principal(principal)
            if current is None or current.subject != principal.subject:
                return None
            return replace(
                principal,
                scopes=principal.scopes & current.scopes,
                roles=principal.roles & current.roles,
            )
        if self.user_loader is not None and await self.load_user(principal) is None:
            return None
        return principal

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of ``refresh_token`` (this session only).

        Raises:
            InvalidTokenError: If the token is not a valid refresh token.
        """
        claims = await self._refresh_claims(refresh_token)
        await self.store.revoke_family(claims["fam"])

    async def logout_everywhere(self, subject: str) -> int:
        """Revoke every refresh-token family of ``subject``; return how many."""
        return await self.store.revoke_subject(subject)

    async def revoke_access_token(self, principal: Principal) -> None:
        """Deny ``principal``'s access token until it expires (needs ``check_denylist``)."""
        exp = principal.claims.get("exp")
        if principal.token_id is not None and isinstance(exp, int | float):
            await self.store.deny(principal.token_id, datetime.fromtimestamp(exp, UTC))


def _checked_schemes(schemes: Sequence[str]) -> tuple[str, ...]:
    """``schemes`` as a tuple, refused when empty or when one is not a single word."""
    if isinstance(schemes, str):  # a lone string would be read letter by letter
        schemes = (schemes,)
    bad = [scheme for scheme in schemes if not scheme or not scheme.isprintable() or " " in scheme]
    if not schemes or bad:
        msg = (
            f"Auth(schemes={tuple(schemes)!r}) needs at least one scheme, each a single word "
            'such as "Bearer" or "Token".'
        )
        raise ValueError(msg)
    return tuple(schemes)


def _takes_session(loader: UserLoader) -> bool:
    """Whether ``loader`` has a second positional parameter (``async (principal, session)``)."""
    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: the classic form
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(parameter.kind in kinds for parameter in parameters) >= 2  # noqa: PLR2004


INSTALLED: AppSlot[Auth] = AppSlot(
    "fastapi_pro_auth",
    Auth,
    missing="No Auth is installed on this app: call auth.install(app), or setup(app), at start-up.",
)
"""The `Auth` installed on an app."""
