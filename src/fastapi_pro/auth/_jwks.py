"""`JWKSKeySource`: an identity provider's verification keys, fetched from its JWKS URL."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from fastapi_pro.auth._keys import Key

try:
    import httpx
except ImportError:  # pragma: no cover - only without the oidc extra
    _HTTPX_MISSING = True
else:
    _HTTPX_MISSING = False

logger = logging.getLogger("fastapi_pro.auth")

MAX_DOCUMENT_BYTES = 1024 * 1024
"""Largest JWKS or discovery document accepted (1 MiB)."""

_INSTALL = 'JWKSKeySource needs httpx; install it with: pip install "fastapi-pro[oidc]"'


class JWKSError(Exception):
    """A JWKS or OpenID discovery document could not be fetched, read or trusted."""


def _is_http(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    """GET a JSON document of at most `MAX_DOCUMENT_BYTES` (callers bound the time it takes)."""
    async with client.stream("GET", url) as response:
        if response.status_code != httpx.codes.OK:
            msg = f"{url} answered HTTP {response.status_code}."
            raise JWKSError(msg)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
            msg = f"{url} announced {declared} bytes, more than the {MAX_DOCUMENT_BYTES} accepted."
            raise JWKSError(msg)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                msg = f"{url} sent more than the {MAX_DOCUMENT_BYTES} bytes accepted."
                raise JWKSError(msg)
    try:
        return json.loads(body)
    except ValueError as error:
        msg = f"{url} did not send valid JSON."
        raise JWKSError(msg) from error


def _parse_jwks(document: Any) -> dict[str, Key]:
    """The signature keys of a JWKS document, by kid; unusable keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        msg = "The JWKS document has no 'keys' list."
        raise JWKSError(msg)
    keys: dict[str, Key] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or jwk.get("kty") == "oct":
            continue
        try:
            key = Key.from_jwk(jwk)
        except (ValueError, TypeError):
            logger.debug("Skipped a JWK that could not be loaded (kty %r).", jwk.get("kty"))
            continue
        keys.setdefault(key.kid, key)
    return keys


async def _discover(client: httpx.AsyncClient, issuer: str, timeout: float) -> str:  # noqa: ASYNC109
    """The ``jwks_uri`` of the issuer's OpenID discovery document, once the document is trusted.

    Raises:
        JWKSError: If discovery fails or its document names another issuer or no http(s) JWKS.
    """
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        async with asyncio.timeout(timeout):
            document = await _get_json(client, url)
    except (httpx.HTTPError, TimeoutError) as error:
        msg = f"OpenID discovery at {url} failed ({type(error).__name__})."
        raise JWKSError(msg) from error
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        msg = f"The discovery document at {url} does not name the issuer {issuer!r}."
        raise JWKSError(msg)
    jwks_url = document.get("jwks_uri")
    if not _is_http(jwks_url):
        msg = f"The discovery document at {url} has no http(s) jwks_uri."
        raise JWKSError(msg)
    return str(jwks_url)


class JWKSKeySource:
    """A `KeySource` that verifies tokens of an OpenID provider with the keys of its JWKS URL.

    Keys are cached for ``ttl`` seconds. An unknown kid triggers a refetch, at most once per
    ``refresh_cooldown`` seconds, and concurrent lookups share one fetch. When a fetch fails the
    cached keys stay in use; `get_key` never raises for a fetch failure, it returns ``None``.

    Args:
        jwks_url: The http(s) URL of the provider's JWKS document.
        ttl: Seconds the fetched keys are used before they are fetched again.
        refresh_cooldown: Least number of seconds between two fetch attempts.
        timeout: Seconds one fetch may take in all.
        client: The httpx client to fetch with; by default the source creates and closes its own.
        clock: The monotonic clock, in seconds.

    Raises:
        ImportError: If httpx (the ``oidc`` extra) is not installed.
        ValueError: If the URL is not http(s) or an option is out of range.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        ttl: float = 300,
        refresh_cooldown: float = 30,
        timeout: float = 5,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if _HTTPX_MISSING:
            raise ImportError(_INSTALL)
        if not _is_http(jwks_url):
            msg = f"The JWKS URL must be an http(s) URL, got {jwks_url!r}."
            raise ValueError(msg)
        if ttl <= 0 or refresh_cooldown < 0 or timeout <= 0:
            msg = "ttl and timeout must be positive and refresh_cooldown not negative."
            raise ValueError(msg)
        self.jwks_url = jwks_url
        self.ttl = ttl
        self.refresh_cooldown = refresh_cooldown
        self.timeout = timeout
        self._client = client
        self._owns_client = client is None
        self._closed = False
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    @classmethod
    async def from_issuer(cls, issuer: str, **options: Any) -> Self:
        """A source for the JWKS named by the issuer's OpenID discovery document.

        Args:
            issuer: The issuer URL; the document must name exactly this issuer.
            **options: The keyword options of `JWKSKeySource`.

        Raises:
            JWKSError: If discovery fails or its document names another issuer or no http(s) JWKS.
        """
        if _HTTPX_MISSING:  # pragma: no cover - only without the oidc extra
            raise ImportError(_INSTALL)
        if not _is_http(issuer):
            msg = f"The issuer must be an http(s) URL, got {issuer!r}."
            raise ValueError(msg)
        given: httpx.AsyncClient | None = options.get("client")
        client = given or httpx.AsyncClient()
        try:
            jwks_url = await _discover(client, issuer, options.get("timeout", 5))
            source = cls(jwks_url, **options)
        except BaseException:
            if given is None:
                await client.aclose()
            raise
        if given is None:
            source._client = client  # the source owns the discovery client from now on
        return source

    async def get_key(self, kid: str | None) -> Key | None:
        """Return the key with this id (or the only key when ``kid`` is ``None``), or ``None``."""
        refreshed = False
        if self._is_stale() and self._may_fetch():
            await self._refresh()
            refreshed = True
        key = self._find(kid)
        if key is None and kid is not None and not refreshed and self._may_fetch():
            await self._refresh()
            key = self._find(kid)
        return key

    async def aclose(self) -> None:
        """Stop a fetch in progress and close the HTTP client if this source created it."""
        self._closed = True
        task = self._inflight
        if task is not None:
            task.cancel()
            await asyncio.wait((task,))
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def reopen(self) -> None:
        """Fetch again after `aclose` (an app whose lifespan starts again); the client is new."""
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _find(self, kid: str | None) -> Key | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.ttl

    def _may_fetch(self) -> bool:
        if self._inflight is not None or self._attempted_at is None:
            return not self._closed
        return not self._closed and self._clock() - self._attempted_at >= self.refresh_cooldown

    async def _refresh(self) -> None:
        """Join the fetch in progress or start one; waiting never raises its errors."""
        task = self._inflight
        if task is None:
            self._attempted_at = self._clock()
            task = self._inflight = asyncio.create_task(self._fetch())
        await asyncio.wait((task,))

    async def _fetch(self) -> None:
        try:
            keys = await self._download()
        # Any failure keeps the cached keys: the request path never sees it.
        except Exception as error:
            fallback = "keeping the cached keys" if self._keys else "no keys are available"
            logger.warning(
                "Fetching the JWKS from %s failed (%s: %s); %s.",
                self.jwks_url,
                type(error).__name__,
                error,
                fallback,
            )
        else:
            if not keys:
                logger.warning("The JWKS at %s holds no usable signature keys.", self.jwks_url)
            self._keys = keys
            self._fetched_at = self._clock()
        finally:
            self._inflight = None

    async def _download(self) -> dict[str, Key]:
        """Fetch the JWKS within ``timeout`` and read its signature keys."""
        if self._client is None:
            self._client = httpx.AsyncClient()
        async with asyncio.timeout(self.timeout):
            document = await _get_json(self._client, self.jwks_url)
        return _parse_jwks(document)
