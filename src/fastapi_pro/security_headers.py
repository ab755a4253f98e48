"""`SecurityHeadersMiddleware`: the browser security headers an API sends on every response.

```python
from fastapi import FastAPI
from fastapi_pro.security_headers import install_security_headers

app = FastAPI()
install_security_headers(app, hsts_max_age=31_536_000)
```
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_pro._shared.stack import install_outermost
from fastapi_pro._shared.state import SECURITY_HEADERS
from fastapi_pro.settings import API_CONTENT_SECURITY_POLICY, DOCS_CONTENT_SECURITY_POLICY

SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""The policy of the docs pages when the app serves their assets itself
(`fastapi_pro.self_hosted_docs`): `DOCS_CONTENT_SECURITY_POLICY` without the public CDNs."""

DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
"""FastAPI's default paths of the interactive documentation pages."""


class SecurityHeadersMiddleware:
    """Add security headers to every HTTP response; a header the app set itself is kept.

    Pure ASGI. Install it with `install_security_headers` so that it wraps Starlette's error
    middleware too: then unhandled 500s carry the headers as well.

    Args:
        app: The ASGI app to wrap.
        content_type_options: Send ``X-Content-Type-Options: nosniff``.
        frame_options: ``X-Frame-Options`` (``"DENY"`` or ``"SAMEORIGIN"``); ``None`` sends none.
        referrer_policy: ``Referrer-Policy``; ``None`` sends none.
        content_security_policy: ``Content-Security-Policy`` of every response but the docs.
        docs_content_security_policy: ``Content-Security-Policy`` of the ``docs_paths``.
        docs_paths: The Swagger UI and ReDoc pages (without the app's root path).
        hsts_max_age: Send ``Strict-Transport-Security`` with this ``max-age``; ``None`` (the
            default) sends none. Turn it on only when every client reaches the service by HTTPS.
        hsts_include_subdomains: Add ``includeSubDomains`` to HSTS.
        hsts_preload: Add ``preload`` to HSTS.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        content_type_options: bool = True,
        frame_options: Literal["DENY", "SAMEORIGIN"] | None = "DENY",
        referrer_policy: str | None = "no-referrer",
        content_security_policy: str | None = API_CONTENT_SECURITY_POLICY,
        docs_content_security_policy: str | None = DOCS_CONTENT_SECURITY_POLICY,
        docs_paths: Iterable[str] = DOCS_PATHS,
        hsts_max_age: int | None = None,
        hsts_include_subdomains: bool = True,
        hsts_preload: bool = False,
    ) -> None:
        self.app = app
        common: dict[str, str | None] = {
            "x-content-type-options": "nosniff" if content_type_options else None,
            "x-frame-options": frame_options,
            "referrer-policy": referrer_policy,
            "strict-transport-security": _hsts(hsts_max_age, hsts_include_subdomains, hsts_preload),
        }
        self._headers = _encode({**common, "content-security-policy": content_security_policy})
        self._docs_headers = _encode(
            {**common, "content-security-policy": docs_content_security_policy}
        )
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding the headers the response does not set itself."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        extra = self._docs_headers if path in self.docs_paths else self._headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _hsts(max_age: int | None, include_subdomains: bool, preload: bool) -> str | None:
    if max_age is None:
        return None
    value = f"max-age={max_age}"
    if include_subdomains:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value


def _encode(headers: dict[str, str | None]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple(
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.items()
        if value is not None
    )


def install_security_headers(app: Any, **options: Any) -> None:
    """Wrap ``app``'s whole middleware stack in a `SecurityHeadersMiddleware`.

    Starlette's error middleware is wrapped too, so unhandled 500s carry the headers. The
    docs paths default to the app's own ``docs_url``, ``redoc_url`` and OAuth2 redirect URL.

    Args:
        app: A FastAPI or Starlette application, before it serves its first request.
        **options: The keyword arguments of `SecurityHeadersMiddleware`.

    Raises:
        RuntimeError: If the app already serves requests, or this was called twice.
    """
    options.setdefault("docs_paths", _docs_paths(app))
    install_outermost(
        app,
        lambda inner: SecurityHeadersMiddleware(inner, **options),
        flag=SECURITY_HEADERS,
    )


def _docs_paths(app: Any) -> tuple[str, ...]:
    names = ("docs_url", "swagger_ui_oauth2_redirect_url", "redoc_url")
    paths = (getattr(app, name, None) for name in names)
    return tuple(path for path in paths if path)


__all__ = [
    "API_CONTENT_SECURITY_POLICY",
    "DOCS_CONTENT_SECURITY_POLICY",
    "DOCS_PATHS",
    "SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY",
    "SecurityHeadersMiddleware",
    "install_security_headers",
]
