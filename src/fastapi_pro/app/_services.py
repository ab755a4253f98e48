"""The blocks behind the endpoints: the database, the Redis client, auth and health."""

from __future__ import annotations

import functools

from fastapi_pro.app._auth import build_auth
from fastapi_pro.app._lifespan import step
from fastapi_pro.app._redis import redis_client
from fastapi_pro.app._wiring import Block, Wiring, chosen
from fastapi_pro.auth import Auth, JWKSKeySource, SqlTokenStore
from fastapi_pro.db import Database
from fastapi_pro.health import Health, database_check, redis_check


class DatabaseBlock(Block):
    """A `Database` registered in the app's lifespan; ``metadata``'s tables made at start-up."""

    def build(self, wiring: Wiring) -> None:
        """Use the given `Database`, or build one from ``settings.database``."""
        settings = wiring.settings.database
        given = wiring.options.database
        wiring.add(database=chosen(given, Database, lambda: Database.from_settings(settings)))

    def install(self, wiring: Wiring) -> None:
        """Create the metadata's missing tables at start-up, when `setup` got ``metadata``."""
        database, metadata = wiring.components.database, wiring.options.metadata
        if database is not None and metadata is not None:
            wiring.startup.append(functools.partial(database.create_all, metadata))


class RedisBlock(Block):
    """The Redis client on ``redis.url``, shared by the blocks that need one, closed at exit."""

    def build(self, wiring: Wiring) -> None:
        """Build the client when ``redis.url`` is set."""
        wiring.add(redis=redis_client(wiring.settings))

    def install(self, wiring: Wiring) -> None:
        """Close the client at shutdown."""
        if wiring.components.redis is not None:
            wiring.shutdown.append(wiring.components.redis.aclose)


class AuthBlock(Block):
    """The `Auth` from ``settings.auth`` (or the given one): its routes, OpenAPI and keys."""

    def check(self, wiring: Wiring) -> None:
        """Refuse loaders given beside a ready-made `Auth`, which has its own."""
        options = wiring.options
        if isinstance(options.auth, Auth) and (options.user_loader or options.reload_principal):
            msg = (
                "setup() got both auth=Auth(...) and user_loader= or reload_principal=; give "
                "them to your Auth."
            )
            raise ValueError(msg)

    def build(self, wiring: Wiring) -> None:
        """Build the `Auth` on the database and Redis client built before it."""
        options, parts = wiring.options, wiring.components

        def build() -> Auth:
            loaders = (options.user_loader, options.reload_principal)
            return build_auth(wiring.settings, parts.database, parts.redis, *loaders)

        auth = chosen(options.auth, Auth, build)
        if options.token_url is not None and auth is not None and auth.tokens.keys is None:
            msg = (
                "setup() got token_url=, but this Auth only verifies tokens an identity "
                "provider signs: there is no login here. Drop token_url (Swagger UI takes a "
                "pasted token)."
            )
            raise ValueError(msg)
        wiring.add(auth=auth)

    def install(self, wiring: Wiring) -> None:
        """Install the `Auth`, open its key source with the app and close it after."""
        auth = wiring.components.auth
        if auth is None:
            return
        auth.install(wiring.app, token_url=wiring.options.token_url)
        source = auth.tokens.source
        if wiring.options.auth is True and isinstance(source, JWKSKeySource):
            wiring.startup.append(step(source.reopen))  # closed by an earlier shutdown
            wiring.shutdown.append(source.aclose)  # its HTTP client
        tables = wiring.options.metadata is not None and wiring.components.database is not None
        if tables and isinstance(auth.store, SqlTokenStore):
            wiring.startup.append(auth.store.create_tables)


class HealthBlock(Block):
    """The probes of a `Health`, with the database and Redis checks added."""

    def build(self, wiring: Wiring) -> None:
        """Use the given `Health`, or build one from ``settings.health``; add the checks."""
        version = wiring.app.version
        settings = wiring.settings.health
        health = chosen(
            wiring.options.health, Health, lambda: Health.from_settings(settings, version=version)
        )
        database, redis = wiring.components.database, wiring.components.redis
        if health is not None and database is not None and "database" not in health:
            health.add("database", database_check(database))
        if health is not None and redis is not None and "redis" not in health:
            health.add("redis", redis_check(redis))
        wiring.add(health=health)

    def install(self, wiring: Wiring) -> None:
        """Serve the probes under ``health.path_prefix``."""
        if wiring.components.health is not None:
            wiring.components.health.install(wiring.app, prefix=probe_prefix(wiring))


PROBES = ("live", "ready", "startup")
"""The probes `Health` serves under its prefix."""


def probe_prefix(wiring: Wiring) -> str:
    """The probes' path prefix, without a trailing slash."""
    return wiring.settings.health.path_prefix.rstrip("/")
