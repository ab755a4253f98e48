"""How `setup` builds `Auth` from `Settings`."""

from __future__ import annotations

import functools
import logging
import secrets
from typing import TYPE_CHECKING

from fastapi_pro.auth import (
    ACCESS,
    Auth,
    InMemoryTokenStore,
    JWKSKeySource,
    Key,
    KeyConfigError,
    KeyRing,
    PrincipalReloader,
    Tokens,
    TokenStore,
    UserLoader,
)
from fastapi_pro.db import Database
from fastapi_pro.settings import JWTAlgorithm, Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("fastapi_pro.app")

_KEY_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def build_auth(
    settings: Settings,
    database: Database | None,
    redis: Redis | None,
    user_loader: UserLoader | None,
    reload_principal: PrincipalReloader | None = None,
) -> Auth:
    """`Auth` from the ``auth`` section: its key, token lifetimes and token store.

    With ``auth.jwks_url``, tokens are verified with an identity provider's published keys
    and the service signs none.
    """
    return Auth(
        _tokens(settings),
        user_loader=user_loader,
        reload_principal=reload_principal,
        request_session=database.request_session if database is not None else None,
        store=_token_store(settings, database, redis),
        check_denylist=settings.auth.check_denylist,
        schemes=settings.auth.schemes,
    )


def _tokens(settings: Settings) -> Tokens:
    """Signed with the configured key, or verified with the identity provider's keys."""
    config = settings.auth
    verifier = _verifier(settings)
    types = (ACCESS,) if verifier is None else (ACCESS, "JWT")
    return Tokens(
        KeyRing(_signing_key(settings)) if verifier is None else None,
        verify_with=verifier,
        issuer=config.issuer,
        audience=config.audience,
        access_ttl=config.access_token_ttl,
        refresh_ttl=config.refresh_token_ttl,
        leeway=config.leeway,
        access_types=set(config.token_types or types),
    )


def _verifier(settings: Settings) -> JWKSKeySource | None:
    """The identity provider's key source, when ``auth.jwks_url`` is set."""
    if settings.auth.jwks_url is None:
        return None
    _check_verify_only(settings)
    return JWKSKeySource(settings.auth.jwks_url)  # names the oidc extra if httpx is missing


def _check_verify_only(settings: Settings) -> None:
    """Refuse what makes no sense, or no security, when an identity provider signs tokens."""
    config = settings.auth
    if config.token_store != "memory":  # noqa: S105 - a store name, not a password
        msg = (
            f"auth.token_store={config.token_store!r} has nothing to hold with auth.jwks_url: "
            "the service issues no tokens. Leave it at 'memory'."
        )
        raise ValueError(msg)
    missing = [name for name in ("issuer", "audience") if getattr(config, name) is None]
    if not missing:
        return
    names = " and ".join(f"auth.{name}" for name in missing)
    problem = (
        f"auth.jwks_url is set without {names}: any token the provider signs (for another "
        "client or API, an ID token) would be accepted"
    )
    if settings.environment == "production":
        raise KeyConfigError(f"{problem}. Set {names}.")
    logger.warning("%s. Set %s before deploying; in production this is an error.", problem, names)


def _signing_key(settings: Settings) -> Key:
    """The configured key; else, outside production, a key made for this process."""
    configured = _configured_key(settings)
    if configured is not None:
        return configured
    algorithm = settings.auth.algorithm
    missing, fix = _missing_key(algorithm)
    if settings.environment == "production":
        msg = (
            f"{missing} is not set, and in production tokens need a key that every process "
            f"shares and that survives restarts: {fix}, or call setup(app, auth=False) for a "
            "service that issues no tokens."
        )
        raise KeyConfigError(msg)
    logger.warning(
        "%s is not set: tokens are signed with a random key made for this process, so they "
        "stop working when it restarts and other processes refuse them. Set it before "
        "deploying; in production this is an error.",
        missing,
    )
    return _process_key(algorithm)


def _configured_key(settings: Settings) -> Key | None:
    """The HMAC secret or PEM private key the settings hold for the algorithm, if any."""
    config = settings.auth
    algorithm = config.algorithm
    if algorithm.startswith("HS"):
        secret = config.secret_key
        return None if secret is None else Key.hmac(secret.get_secret_value(), algorithm=algorithm)
    pem = config.private_key
    return None if pem is None else Key.from_pem(pem.get_secret_value(), algorithm=algorithm)


def _missing_key(algorithm: JWTAlgorithm) -> tuple[str, str]:
    """The setting an algorithm needs, and how to fill it in."""
    if algorithm.startswith("HS"):
        fix = f"set it to a random string of 32 bytes or more ({_KEY_COMMAND})"
        return "auth.secret_key (FASTAPI_PRO_AUTH__SECRET_KEY)", fix
    return "auth.private_key (FASTAPI_PRO_AUTH__PRIVATE_KEY)", (
        f"set it to a PEM private key for {algorithm}"
    )


@functools.cache
def _process_key(algorithm: JWTAlgorithm) -> Key:
    """A random signing key made once per process, for development and tests."""
    if algorithm.startswith("HS"):
        return Key.hmac(secrets.token_bytes(64), algorithm=algorithm)
    return Key.generate(algorithm)


def _token_store(settings: Settings, database: Database | None, redis: Redis | None) -> TokenStore:
    kind = settings.auth.token_store
    if kind == "redis":
        if redis is None:
            msg = (
                'auth.token_store is "redis", but redis.url is not set: set '
                "FASTAPI_PRO_REDIS__URL, for example to redis://localhost:6379/0."
            )
            raise ValueError(msg)
        from fastapi_pro.auth import RedisTokenStore  # noqa: PLC0415 - the redis extra

        return RedisTokenStore(redis, prefix=f"{settings.redis.key_prefix}auth:")
    if kind == "database":
        if database is None:
            msg = (
                'auth.token_store is "database", but setup() has no database: drop '
                "database=False, or choose another auth.token_store."
            )
            raise ValueError(msg)
        from fastapi_pro.auth import SqlTokenStore  # noqa: PLC0415 - loaded on first use

        return SqlTokenStore(database)
    return InMemoryTokenStore()
