"""`setup`: the composition root's one call."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from fastapi_pro._shared.stack import wrap_stack
from fastapi_pro._shared.state import OBSERVABILITY, SECURITY_HEADERS, SELF_HOSTED_DOCS
from fastapi_pro.app._auth import build_auth
from fastapi_pro.app._components import COMPONENTS, Components
from fastapi_pro.app._lifespan import Step, compose_lifespan, step
from fastapi_pro.app._redis import redis_client
from fastapi_pro.auth import Auth, JWKSKeySource, PrincipalReloader, SqlTokenStore, UserLoader
from fastapi_pro.db import Database
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.health import Health, database_check, redis_check
from fastapi_pro.observability import (
    Metrics,
    configure_logging,
    configure_tracing,
    install_observability,
    instrument_database,
)
from fastapi_pro.security_headers import (
    DOCS_CONTENT_SECURITY_POLICY,
    SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY,
    install_security_headers,
)
from fastapi_pro.self_hosted_docs import install_self_hosted_docs
from fastapi_pro.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

_logger = logging.getLogger("fastapi_pro.app")

_PROBES = ("live", "ready", "startup")


def setup(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    errors: bool = True,
    observability: bool = True,
    logging: bool = True,
    metrics: bool | Metrics = True,
    tracing: bool | TracerProvider = True,
    database: bool | Database = True,
    metadata: MetaData | None = None,
    auth: bool | Auth = True,
    user_loader: UserLoader | None = None,
    reload_principal: PrincipalReloader | None = None,
    token_url: str | None = None,
    health: bool | Health = True,
    metrics_route: bool = True,
    cors: bool = True,
    security_headers: bool = True,
) -> Components:
    """Wire every fastapi-pro block onto ``app`` from ``settings``.

    Each block can be turned off with its switch; passing an instance (``database=db``,
    ``auth=my_auth``, ...) uses that instance instead of building one from the settings.
    Request bodies are limited to ``settings.max_body_size`` bytes (a 413 problem beyond)
    unless the app was given a ``max_body_size`` of its own; routers and routes may set theirs.

    Args:
        app: A plain `FastAPI` app that has not served a request yet.
        settings: The configuration; ``Settings()`` (the environment) when omitted.
        errors: Install the problem-details error handlers.
        observability: Install the observability middleware and what it feeds: metrics, the
            metrics route and tracing.
        logging: Configure logging when ``observability.logging_enabled`` (process-wide).
        metrics: Record Prometheus metrics when ``observability.metrics_enabled``, or into
            this `Metrics`.
        tracing: Trace requests when ``observability.tracing_enabled``, or with this
            provider.
        database: Register a `Database` built from ``settings.database``, or this one, in the
            app's lifespan.
        metadata: Create this metadata's missing tables at start-up (demos and tests; real
            services run migrations), and the `SqlTokenStore` tables when that store is used.
        auth: Install an `Auth` built from ``settings.auth``, or this one.
        user_loader: The `Auth`'s user loader, for ``CurrentUser``; one that takes a second
            parameter reads the user in the request's session, on the registered database.
        reload_principal: The `Auth`'s check of an identity's current grants at each refresh.
        token_url: The password-flow token endpoint, so Swagger UI's Authorize button logs in.
        health: Serve the liveness, readiness and startup probes of a `Health` built from
            ``settings.health``, or of this one; the database and Redis checks are added to it
            unless it has checks of those names.
        metrics_route: Serve the metrics at ``observability.metrics_path``.
        cors: Answer cross-origin requests when ``cors.allow_origins`` is not empty.
        security_headers: Add security headers when ``security_headers.enabled``.

    Returns:
        What was built, also reachable with `Components.of`.

    Raises:
        RuntimeError: If `setup` was already called on ``app``, or the app serves requests.
        KeyConfigError: In production, when no signing key is configured.
        ValueError: When a token store needs a block that is missing.
    """
    if COMPONENTS.find(app) is not None:
        msg = "setup() was already called on this app; call it once per app."
        raise RuntimeError(msg)
    if app.middleware_stack is not None:
        msg = "setup() must run before the app serves its first request."
        raise RuntimeError(msg)
    # Checked before anything is installed, so a refused call leaves the app as it was.
    for wanted, flag, switch in (
        (observability, OBSERVABILITY, "observability"),
        (security_headers, SECURITY_HEADERS, "security_headers"),
    ):
        if wanted and flag.is_set(app):
            msg = (
                f"install_{switch}() was already called on this app; setup() installs it "
                f"too. Remove that call, or pass {switch}=False."
            )
            raise RuntimeError(msg)
    settings = settings if settings is not None else Settings()
    if settings.docs.self_hosted and SELF_HOSTED_DOCS.is_set(app):
        msg = (
            "install_self_hosted_docs() was already called on this app; setup() installs it "
            "too when docs.self_hosted is set. Remove that call, or unset the setting."
        )
        raise RuntimeError(msg)
    config = settings.observability
    if logging and config.logging_enabled:
        configure_logging(level=config.log_level, json_lines=config.log_json)
    components = _build(
        app,
        settings,
        observability=observability,
        metrics=metrics,
        tracing=tracing,
        database=database,
        auth=auth,
        user_loader=user_loader,
        reload_principal=reload_principal,
        health=health,
    )
    if (
        token_url is not None
        and components.auth is not None
        and components.auth.tokens.keys is None
    ):
        msg = (
            "setup() got token_url=, but this Auth only verifies tokens an identity provider "
            "signs: there is no login here. Drop token_url (Swagger UI takes a pasted token)."
        )
        raise ValueError(msg)
    if app.max_body_size is None:  # the app's own limit, when it has one, stays
        app.max_body_size = settings.max_body_size
    if errors:
        install_error_handlers(
            app,
            request_id_header=config.request_id_header,
            type_base_uri=settings.errors.type_base_uri,
            include_validation_input=settings.errors.include_validation_input,
        )
    _install_routes(app, components, token_url=token_url, metrics_route=metrics_route)
    _track_blocks(components)
    _install_middleware(
        app, components, observability=observability, cors=cors, headers=security_headers
    )
    app.router.lifespan_context = compose_lifespan(  # type: ignore[assignment]
        app.router.lifespan_context,
        components.database,
        startup=_startup(components, metadata, owns_auth=auth is True),
        shutdown=_shutdown(
            components, owns_tracer_provider=tracing is True, owns_auth=auth is True
        ),
    )
    COMPONENTS.put(app, components)
    return components


def _build(
    app: FastAPI,
    settings: Settings,
    *,
    observability: bool,
    metrics: bool | Metrics,
    tracing: bool | TracerProvider,
    database: bool | Database,
    auth: bool | Auth,
    user_loader: UserLoader | None,
    reload_principal: PrincipalReloader | None,
    health: bool | Health,
) -> Components:
    if isinstance(auth, Auth) and (user_loader or reload_principal) is not None:
        msg = (
            "setup() got both auth=Auth(...) and user_loader= or reload_principal=; give "
            "them to your Auth."
        )
        raise ValueError(msg)
    db = database if isinstance(database, Database) else None
    if database is True:
        db = Database.from_settings(settings.database)
    redis = redis_client(settings)
    app_auth = auth if isinstance(auth, Auth) else None
    if auth is True:
        app_auth = build_auth(settings, db, redis, user_loader, reload_principal)
    app_metrics, provider = None, None
    if observability:  # the middleware feeds both: without it, neither is built
        app_metrics = metrics if isinstance(metrics, Metrics) else None
        if metrics is True and settings.observability.metrics_enabled:
            app_metrics = Metrics.from_settings(settings)
        provider = tracing if isinstance(tracing, TracerProvider) else None
        if tracing is True:
            provider = _tracer_provider(app, settings)
    return Components(
        settings=settings,
        database=db,
        auth=app_auth,
        metrics=app_metrics,
        tracer_provider=provider,
        health=_health(app, health, settings, db, redis),
        redis=redis,
    )


def _tracer_provider(app: FastAPI, settings: Settings) -> TracerProvider | None:
    config = settings.observability
    if not config.tracing_enabled:
        return None
    return configure_tracing(
        service_name=config.service_name,
        service_version=app.version,
        sample_ratio=config.trace_sample_ratio,
        exporter=config.trace_exporter,
        otlp_endpoint=config.otlp_endpoint,
    )


def _health(
    app: FastAPI,
    health: bool | Health,
    settings: Settings,
    database: Database | None,
    redis: Redis | None,
) -> Health | None:
    if health is False:
        return None
    built = health if isinstance(health, Health) else None
    if built is None:
        built = Health.from_settings(settings.health, version=app.version)
    if database is not None and "database" not in built:
        built.add("database", database_check(database))
    if redis is not None and "redis" not in built:
        built.add("redis", redis_check(redis))
    return built


def _install_routes(
    app: FastAPI, components: Components, *, token_url: str | None, metrics_route: bool
) -> None:
    settings = components.settings
    if components.auth is not None:
        components.auth.install(app, token_url=token_url)
    if components.health is not None:
        components.health.install(app, prefix=settings.health.path_prefix.rstrip("/"))
    docs = settings.docs
    if docs.self_hosted:
        install_self_hosted_docs(app, path=docs.assets_path, directory=docs.assets_directory)
    if components.metrics is not None and metrics_route:
        token = settings.observability.metrics_token
        secret = token.get_secret_value() if token is not None else None
        if secret is None and settings.environment == "production":
            _logger.warning(
                "%s is served without a token in production: anyone who reaches the service "
                "can read its metrics. Set observability.metrics_token "
                "(FASTAPI_PRO_OBSERVABILITY__METRICS_TOKEN), or keep the path off the public "
                "network.",
                settings.observability.metrics_path,
            )
        app.include_router(
            components.metrics.router(settings.observability.metrics_path, token=secret)
        )


def _track_blocks(components: Components) -> None:
    """Feed the auth refusals and health results into the metrics (the pool's: below)."""
    metrics = components.metrics
    if metrics is None:
        return
    if components.auth is not None:
        metrics.track_auth(components.auth)
    if components.health is not None:
        metrics.track_health(components.health)


def _install_middleware(
    app: FastAPI, components: Components, *, observability: bool, cors: bool, headers: bool
) -> None:
    """Wrap the stack from the inside out: CORS, security headers, observability."""
    settings = components.settings
    config = settings.observability
    request_id = config.request_id_header
    if cors and settings.cors.allow_origins:
        wrap_stack(app, lambda inner: _cors(inner, settings, request_id))
    secure = settings.security_headers
    if headers and secure.enabled:
        install_security_headers(
            app,
            frame_options=secure.frame_options,
            referrer_policy=secure.referrer_policy,
            content_security_policy=secure.content_security_policy,
            docs_content_security_policy=_docs_policy(settings),
            hsts_max_age=secure.hsts_max_age if secure.hsts_enabled else None,
            hsts_include_subdomains=secure.hsts_include_subdomains,
            hsts_preload=secure.hsts_preload,
        )
    database, metrics, provider = (
        components.database,
        components.metrics,
        components.tracer_provider,
    )
    if database is not None and metrics is not None:
        metrics.track_database(database)
    if database is not None and provider is not None:
        instrument_database(database, provider)
    if observability:
        prefix = settings.health.path_prefix.rstrip("/")
        install_observability(
            app,
            request_id_header=request_id,
            metrics=metrics,
            tracer_provider=provider,
            access_log=config.access_log_enabled,
            operation_spans=config.operation_spans,
            skip_paths={config.metrics_path, *(f"{prefix}/{probe}" for probe in _PROBES)},
        )


def _docs_policy(settings: Settings) -> str | None:
    """The docs pages' policy: the default one loses the CDNs when the app serves the assets."""
    policy = settings.security_headers.docs_content_security_policy
    if settings.docs.self_hosted and policy == DOCS_CONTENT_SECURITY_POLICY:
        return SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY
    return policy


def _cors(app: ASGIApp, settings: Settings, request_id_header: str) -> ASGIApp:
    config = settings.cors

    def with_request_id(headers: list[str]) -> list[str]:
        known = {header.lower() for header in headers}
        return headers if request_id_header.lower() in known else [*headers, request_id_header]

    return CORSMiddleware(
        app,
        allow_origins=config.allow_origins,
        allow_credentials=config.allow_credentials,
        allow_methods=config.allow_methods,
        allow_headers=with_request_id(config.allow_headers),
        expose_headers=with_request_id(config.expose_headers),
        max_age=config.max_age,
    )


def _startup(components: Components, metadata: MetaData | None, *, owns_auth: bool) -> list[Step]:
    """Table creation for demos and tests, once the database is registered."""
    steps: list[Step] = []
    source = _jwks_source(components) if owns_auth else None
    if source is not None:  # closed by an earlier shutdown of the same app
        steps.append(step(source.reopen))
    database = components.database
    if metadata is None or database is None:
        return steps
    steps.append(functools.partial(database.create_all, metadata))
    store = components.auth.store if components.auth is not None else None
    if isinstance(store, SqlTokenStore):
        steps.append(store.create_tables)
    return steps


def _shutdown(components: Components, *, owns_tracer_provider: bool, owns_auth: bool) -> list[Step]:
    """What `setup` made and releases at shutdown, after the app's own lifespan has ended."""
    steps: list[Step] = []
    metrics, provider, redis = components.metrics, components.tracer_provider, components.redis
    if metrics is not None:
        steps.append(step(metrics.mark_process_dead))
    if provider is not None and owns_tracer_provider:
        steps.append(step(provider.shutdown))  # exports the spans still buffered
    if redis is not None:
        steps.append(redis.aclose)
    source = _jwks_source(components) if owns_auth else None
    if source is not None:
        steps.append(source.aclose)  # its HTTP client; reopened if the lifespan starts again
    return steps


def _jwks_source(components: Components) -> JWKSKeySource | None:
    source = components.auth.tokens.source if components.auth is not None else None
    return source if isinstance(source, JWKSKeySource) else None
