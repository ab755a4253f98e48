"""Typed values a block keeps on an app's ``state``, under one name, found again the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.requests import HTTPConnection, Request

T = TypeVar("T")


class AppSlot(Generic[T]):
    """One value of type ``kind`` a block keeps on ``app.state`` under ``name``.

    ``missing`` is the sentence `get` raises when the app has none: it names the call that
    puts one there.
    """

    __slots__ = ("kind", "missing", "name")

    def __init__(self, name: str, kind: type[T], *, missing: str) -> None:
        self.name = name
        self.kind = kind
        self.missing = missing

    def find(self, source: Any) -> T | None:
        """The value on the app of ``source`` (an app, or a request or websocket), or ``None``."""
        app = source.app if isinstance(source, HTTPConnection) else source
        value = getattr(getattr(app, "state", None), self.name, None)
        return value if isinstance(value, self.kind) else None

    def get(self, source: Any) -> T:
        """The value on the app of ``source``.

        Raises:
            RuntimeError: With ``missing`` when the app has none.
        """
        value = self.find(source)
        if value is None:
            raise RuntimeError(self.missing)
        return value

    def put(self, app: Any, value: T | None) -> None:
        """Keep ``value`` on ``app`` (``None`` clears it)."""
        setattr(app.state, self.name, value)


class AppFlag:
    """A mark that an installer ran on an app, so a second call is refused with one message."""

    __slots__ = ("installer", "name")

    def __init__(self, name: str, *, installer: str) -> None:
        self.name = name
        self.installer = installer

    def is_set(self, app: Any) -> bool:
        """Whether the installer already ran on ``app``."""
        return getattr(app.state, self.name, False) is True

    def check(self, app: Any) -> None:
        """Refuse a second run of the installer on ``app``.

        Raises:
            RuntimeError: When the installer already ran on ``app``.
        """
        if self.is_set(app):
            msg = f"{self.installer}() was already called for this app; call it once."
            raise RuntimeError(msg)

    def set_once(self, app: Any) -> None:
        """Mark ``app``, refusing a second run (`check`)."""
        self.check(app)
        setattr(app.state, self.name, True)


CHALLENGE: AppSlot[str] = AppSlot(
    "fastapi_pro_challenge", str, missing="No Auth is installed on this app: no challenge."
)
"""The ``WWW-Authenticate`` challenge of the app's `Auth`, for 401s raised by application code."""

LoginCheck = Callable[[Request, str | None], Awaitable[None]]
"""``async (request, identifier) -> None``: returns to let a login attempt go ahead, raises to
refuse it; ``identifier`` is the username the attempt names, ``None`` when it names none."""


@dataclass(frozen=True, slots=True)
class LoginGuard:
    """What a token endpoint asks before it checks a login's credentials.

    A block that limits logins puts one in `LOGIN_GUARD`; the token endpoint awaits
    ``check`` after reading the request and before any password is verified, so a refusal
    (an `AppError`, a 429) looks the same for an account that exists and one that does not.
    """

    check: LoginCheck


LOGIN_GUARD: AppSlot[LoginGuard] = AppSlot(
    "fastapi_pro_login_guard",
    LoginGuard,
    missing="No RateLimiter with login limits is installed on this app: logins are not limited.",
)
"""The `LoginGuard` of an app's token endpoints: `RateLimiter.install` leaves it."""

ERROR_HANDLERS = AppFlag("fastapi_pro_error_handlers", installer="install_error_handlers")
"""`fastapi_pro.errors.install_error_handlers` ran on the app."""

OBSERVABILITY = AppFlag("fastapi_pro_observability", installer="install_observability")
"""`fastapi_pro.observability.install_observability` ran on the app."""

RATE_LIMITER = AppFlag("fastapi_pro_rate_limiter_installed", installer="RateLimiter.install")
"""A `fastapi_pro.ratelimit.RateLimiter` was installed on the app."""

SECURITY_HEADERS = AppFlag("fastapi_pro_security_headers", installer="install_security_headers")
"""`fastapi_pro.security_headers.install_security_headers` ran on the app."""

SELF_HOSTED_DOCS = AppFlag("fastapi_pro_self_hosted_docs", installer="install_self_hosted_docs")
"""`fastapi_pro.self_hosted_docs.install_self_hosted_docs` ran on the app."""
