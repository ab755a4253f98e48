"""`setup(app, settings)`: every block wired onto a plain app, each one removable on its own."""

from __future__ import annotations

import dataclasses
import logging
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from fastapi_pro import Components, Settings, setup
from fastapi_pro.app import Switches
from fastapi_pro.app._switches import Options
from fastapi_pro.auth import (
    Auth,
    CurrentPrincipal,
    Key,
    KeyConfigError,
    KeyRing,
    Principal,
    RedisTokenStore,
    SqlTokenStore,
    Tokens,
)
from fastapi_pro.db import Database, SessionDep
from fastapi_pro.errors import NotFoundError
from fastapi_pro.health import Health
from fastapi_pro.observability import InterceptHandler, Metrics, install_observability
from fastapi_pro.security_headers import install_security_headers
from tests.conftest import RedisKeys, redis_key_names
from tests.servers import in_process as serve

SECRET = "a-test-signing-secret-of-32-bytes-or-more"
ORIGIN = "https://app.example.com"

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
)


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


def make_settings(database_url: str, **sections: Any) -> Settings:
    """Settings from arguments only: no `.env`, and a SQLite file of the test's own."""
    sections.setdefault("database", {"url": database_url})
    return Settings(_env_file=None, **sections)  # type: ignore[call-arg]


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/items", status_code=201)
    async def add_item(name: str, session: SessionDep) -> dict[str, int]:
        result = await session.execute(insert(items).values(name=name).returning(items.c.id))
        return {"id": result.scalar_one()}

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, session: SessionDep) -> dict[str, Any]:
        name = await session.scalar(select(items.c.name).where(items.c.id == item_id))
        if name is None:
            raise NotFoundError(f"Item {item_id} does not exist.")
        return {"id": item_id, "name": name}

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("the secret internals")

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


# -- everything on --------------------------------------------------------------------------------


async def test_everything_on_serves_routes_probes_and_metrics(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url), metadata=metadata)

    async with serve(app) as client:
        created = await client.post("/items", params={"name": "chair"})
        read = await client.get(f"/items/{created.json()['id']}")
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
        scrape = await client.get("/metrics")

    assert created.status_code == 201
    assert read.json() == {"id": 1, "name": "chair"}
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"]["database:responseTime"][0]["status"] == "pass"
    assert (
        'http_server_request_duration_seconds_count{http_request_method="GET",'
        'http_response_status_code="200",http_route="/items/{item_id}"} 1.0'
    ) in scrape.text
    assert "db_client_connections_max" in scrape.text


async def test_problems_carry_the_request_id_of_the_middlewares_header(database_url: str) -> None:
    app = make_app()
    settings = make_settings(database_url, observability={"request_id_header": "X-Correlation-ID"})
    setup(app, settings, metadata=metadata)

    async with serve(app) as client:
        missing = await client.get("/items/9", headers={"X-Correlation-ID": "corr-1"})
        crashed = await client.get("/crash", headers={"X-Correlation-ID": "corr-2"})
        fine = await client.get("/ok")

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["x-correlation-id"] == "corr-1"
    assert missing.json()["request_id"] == "corr-1"
    assert crashed.status_code == 500
    assert crashed.json()["request_id"] == "corr-2"
    assert crashed.headers["x-correlation-id"] == "corr-2"
    assert "secret internals" not in crashed.text
    assert fine.headers["x-correlation-id"]
    assert "x-request-id" not in fine.headers


async def test_settings_default_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTAPI_PRO_DATABASE__URL", database_url)
    monkeypatch.setenv("FASTAPI_PRO_HEALTH__PATH_PREFIX", "/probes/")
    app = make_app()

    components = setup(app)

    async with serve(app) as client:
        ready = await client.get("/probes/ready")
    assert components.settings.health.path_prefix == "/probes/"
    assert components.database is not None
    assert str(components.database.url) == database_url
    assert ready.status_code == 200


async def test_components_are_returned_and_reachable_from_the_app(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url))
    seen: dict[str, Any] = {}

    @app.get("/components")
    async def reach(request: Request) -> None:
        seen.update(
            components=Components.of(request),
            database=Database.of(request),
            auth=Auth.of(request),
        )

    async with serve(app) as client:
        await client.get("/components")

    assert seen["components"] is components
    assert seen["database"] is components.database
    assert seen["auth"] is components.auth
    assert isinstance(components.metrics, Metrics)
    assert isinstance(components.health, Health)
    assert components.tracer_provider is None
    assert components.redis is None


# -- CORS and security headers ------------------------------------------------------------------


async def test_cors_answers_preflights_and_exposes_the_request_id(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url, cors={"allow_origins": [ORIGIN]}))

    async with serve(app) as client:
        preflight = await client.options(
            "/items",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-Request-ID",
            },
        )
        simple = await client.get("/ok", headers={"Origin": ORIGIN})
        crashed = await client.get("/crash", headers={"Origin": ORIGIN})
        foreign = await client.get("/ok", headers={"Origin": "https://evil.example.com"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert simple.headers["access-control-expose-headers"] == "X-Request-ID"
    assert crashed.status_code == 500
    assert crashed.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in foreign.headers


async def test_no_cors_headers_without_allowed_origins(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url))

    async with serve(app) as client:
        simple = await client.get("/ok", headers={"Origin": ORIGIN})
        preflight = await client.options(
            "/items", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )

    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(("path", "status"), [("/ok", 200), ("/nowhere", 404), ("/crash", 500)])
async def test_security_headers_are_on_every_response(
    database_url: str, path: str, status: int
) -> None:
    app = make_app()
    setup(app, make_settings(database_url))

    async with serve(app) as client:
        response = await client.get(path)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert "strict-transport-security" not in response.headers


async def test_docs_pages_get_a_policy_that_lets_swagger_ui_and_redoc_load(
    database_url: str,
) -> None:
    app = make_app()
    setup(app, make_settings(database_url))

    async with serve(app) as client:
        swagger = await client.get("/docs")
        redoc = await client.get("/redoc")

    for page in (swagger, redoc):
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policy
        assert "connect-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
    assert "https://cdn.jsdelivr.net" in swagger.text
    assert "https://fonts.googleapis.com" in redoc.text
    assert "worker-src 'self' blob:" in redoc.headers["content-security-policy"]


async def test_strict_transport_security_only_when_enabled(database_url: str) -> None:
    app = make_app()
    settings = make_settings(
        database_url, security_headers={"hsts_enabled": True, "hsts_preload": True}
    )
    setup(app, settings)

    async with serve(app) as client:
        response = await client.get("/ok")

    assert response.headers["strict-transport-security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


async def test_headers_the_app_sets_itself_are_kept(database_url: str) -> None:
    app = make_app()

    @app.get("/framed")
    async def framed() -> JSONResponse:
        return JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN"})

    setup(app, make_settings(database_url))
    async with serve(app) as client:
        response = await client.get("/framed")

    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


# -- every piece can be turned off --------------------------------------------------------------


async def test_errors_off_leaves_fastapis_own_error_bodies(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url), errors=False)

    async with serve(app) as client:
        missing = await client.get("/nowhere")
        fine = await client.get("/ok")

    assert missing.headers["content-type"] == "application/json"
    assert missing.json() == {"detail": "Not Found"}
    assert fine.headers["x-request-id"]
    assert fine.headers["x-content-type-options"] == "nosniff"


async def test_observability_off_removes_the_middleware_metrics_and_tracing(
    database_url: str,
) -> None:
    app = make_app()
    settings = make_settings(database_url, observability={"tracing_enabled": True})
    components = setup(app, settings, observability=False)

    async with serve(app) as client:
        fine = await client.get("/ok")
        scrape = await client.get("/metrics")
        live = await client.get("/health/live")

    assert "x-request-id" not in fine.headers
    assert scrape.status_code == 404
    assert components.metrics is None
    assert components.tracer_provider is None
    assert live.status_code == 200
    assert fine.headers["x-content-type-options"] == "nosniff"


async def test_logging_is_configured_unless_turned_off(database_url: str) -> None:
    def intercepted() -> bool:
        return any(isinstance(h, InterceptHandler) for h in logging.getLogger().handlers)

    setup(make_app(), make_settings(database_url), logging=False)
    assert not intercepted()
    setup(make_app(), make_settings(database_url, observability={"logging_enabled": False}))
    assert not intercepted()

    setup(make_app(), make_settings(database_url))
    assert intercepted()


async def test_metrics_off_keeps_request_ids_but_serves_no_metrics(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), metrics=False)

    async with serve(app) as client:
        fine = await client.get("/ok")
        scrape = await client.get("/metrics")

    assert components.metrics is None
    assert fine.headers["x-request-id"]
    assert scrape.status_code == 404


async def test_metrics_route_off_keeps_recording(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), metrics_route=False)

    async with serve(app) as client:
        await client.get("/ok")
        scrape = await client.get("/metrics")

    assert scrape.status_code == 404
    assert components.metrics is not None
    assert 'http_route="/ok"' in components.metrics.render()[0].decode()


async def test_metrics_route_follows_its_settings(database_url: str) -> None:
    app = make_app()
    observability = {"metrics_path": "/internal/metrics", "metrics_token": "scrape-token"}
    setup(app, make_settings(database_url, observability=observability))

    async with serve(app) as client:
        refused = await client.get("/internal/metrics")
        scraped = await client.get(
            "/internal/metrics", headers={"Authorization": "Bearer scrape-token"}
        )

    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert "http_server_request_duration_seconds" in scraped.text
    assert "/internal/metrics" not in scraped.text  # the scrape path itself is not measured


async def test_database_off_registers_none_and_checks_none(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), database=False)

    async with serve(app) as client:
        ready = await client.get("/health/ready")

    assert components.database is None
    with pytest.raises(RuntimeError, match="No Database is registered"):
        Database.of(app)
    assert ready.status_code == 200
    assert ready.json().get("checks") == {}


async def test_auth_off_installs_no_auth(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), auth=False)

    async with serve(app) as client:
        fine = await client.get("/ok")

    assert components.auth is None
    with pytest.raises(RuntimeError, match="No Auth is installed"):
        Auth.of(app)
    assert fine.status_code == 200


async def test_health_off_serves_no_probes(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), health=False)

    async with serve(app) as client:
        live = await client.get("/health/live")
        fine = await client.get("/ok")

    assert components.health is None
    assert live.status_code == 404
    assert fine.status_code == 200


async def test_cors_off_ignores_allowed_origins(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url, cors={"allow_origins": [ORIGIN]}), cors=False)

    async with serve(app) as client:
        simple = await client.get("/ok", headers={"Origin": ORIGIN})

    assert "access-control-allow-origin" not in simple.headers
    assert simple.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("switch", "settings"),
    [({"security_headers": False}, {}), ({}, {"security_headers": {"enabled": False}})],
    ids=["argument", "setting"],
)
async def test_security_headers_off_adds_none(
    database_url: str, switch: dict[str, bool], settings: dict[str, Any]
) -> None:
    app = make_app()
    setup(app, make_settings(database_url, **settings), **switch)

    async with serve(app) as client:
        fine = await client.get("/ok")

    assert "x-content-type-options" not in fine.headers
    assert "content-security-policy" not in fine.headers
    assert fine.headers["x-request-id"]


async def test_tracing_follows_its_setting_or_a_given_provider(database_url: str) -> None:
    traced = setup(make_app(), make_settings(database_url, observability={"tracing_enabled": True}))
    untraced = setup(make_app(), make_settings(database_url))
    switched_off = setup(
        make_app(),
        make_settings(database_url, observability={"tracing_enabled": True}),
        tracing=False,
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = make_app()
    setup(app, make_settings(database_url), tracing=provider, metadata=metadata)

    async with serve(app) as client:
        await client.get("/items/1")

    assert isinstance(traced.tracer_provider, TracerProvider)
    assert untraced.tracer_provider is None
    assert switched_off.tracer_provider is None
    names = [span.name for span in exporter.get_finished_spans()]
    assert "GET /items/{item_id}" in names
    assert "SELECT" in names  # the database is instrumented too
    assert all(span.context.trace_id for span in exporter.get_finished_spans())
    traced.tracer_provider.shutdown()  # its lifespan never ran


async def test_given_instances_are_used(database_url: str) -> None:
    database = Database(database_url)
    auth = Auth(Tokens(KeyRing(Key.hmac(SECRET))))
    metrics = Metrics(namespace="shop")
    health = Health()

    async def disk() -> None:
        return None

    health.add("disk", disk)
    app = make_app()
    components = setup(
        app,
        make_settings(database_url),
        database=database,
        auth=auth,
        metrics=metrics,
        health=health,
        metadata=metadata,
    )

    async with serve(app) as client:
        ready = await client.get("/health/ready")

    assert components.database is database
    assert components.auth is auth
    assert components.metrics is metrics
    assert components.health is health
    assert set(ready.json()["checks"]) == {"disk:responseTime", "database:responseTime"}


# -- calling it once ------------------------------------------------------------------------------


async def test_a_second_call_is_refused(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url))

    with pytest.raises(RuntimeError, match=r"setup\(\) was already called on this app"):
        setup(app, make_settings(database_url))


async def test_an_app_that_already_serves_is_refused(database_url: str) -> None:
    app = make_app()
    async with serve(app) as client:
        await client.get("/ok")

    with pytest.raises(RuntimeError, match="before the app serves its first request"):
        setup(app, make_settings(database_url))


# -- lifespans ------------------------------------------------------------------------------------


async def test_the_apps_own_lifespan_runs_inside_and_its_state_reaches_requests(
    database_url: str,
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        database = Database.of(app)  # registered before the app's own lifespan starts
        await database.create_all(metadata)
        async with database.session() as session:
            await session.execute(insert(items).values(name="seeded"))
        events.append("started")
        yield {"greeting": "hello"}
        async with database.session() as session:  # still usable while it ends
            count = await session.scalar(select(func.count()).select_from(items))
        events.append(f"stopped with {count} items")

    app = FastAPI(lifespan=lifespan)

    @app.get("/greeting")
    async def greeting(request: Request, session: SessionDep) -> dict[str, Any]:
        name = await session.scalar(select(items.c.name))
        return {"greeting": request.state.greeting, "first": name}

    setup(app, make_settings(database_url))
    async with serve(app) as client:
        response = await client.get("/greeting")

    assert response.json() == {"greeting": "hello", "first": "seeded"}
    assert events == ["started", "stopped with 1 items"]


async def test_the_database_is_disposed_when_the_app_stops(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url), metadata=metadata)
    assert components.database is not None

    async with serve(app) as client:
        await client.post("/items", params={"name": "lamp"})
        assert components.database.engine.pool.checkedin() == 1  # type: ignore[attr-defined]

    assert components.database.engine.pool.checkedin() == 0  # type: ignore[attr-defined]


# -- auth ----------------------------------------------------------------------------------------


async def test_a_token_from_the_apps_auth_authenticates(database_url: str) -> None:
    app = make_app()
    components = setup(app, make_settings(database_url, auth={"secret_key": SECRET}))
    assert components.auth is not None
    token = components.auth.tokens.issue("alice")
    foreign = Tokens(KeyRing(Key.hmac("another-secret-that-is-32-bytes-long"))).issue("alice")

    async with serve(app) as client:
        accepted = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        refused = await client.get("/me", headers={"Authorization": f"Bearer {foreign}"})
        anonymous = await client.get("/me")

    assert accepted.json() == {"subject": "alice"}
    assert refused.status_code == 401
    assert anonymous.status_code == 401


async def test_the_configured_secret_signs_the_tokens(database_url: str) -> None:
    settings = make_settings(
        database_url, auth={"secret_key": SECRET, "issuer": "shop", "audience": "api"}
    )
    components = setup(make_app(), settings)
    assert components.auth is not None
    elsewhere = Tokens(KeyRing(Key.hmac(SECRET)), issuer="shop", audience="api")

    principal = await elsewhere.authenticate(components.auth.tokens.issue("bob"))

    assert principal.subject == "bob"
    assert principal.claims["iss"] == "shop"


async def test_without_a_secret_development_signs_with_a_random_process_key(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = setup(make_app(), make_settings(database_url), logging=False)
    second = setup(make_app(), make_settings(database_url), logging=False)
    assert first.auth is not None
    assert second.auth is not None

    principal = await second.auth.authenticate(first.auth.tokens.issue("carol"))

    assert principal.subject == "carol"
    assert "auth.secret_key (FASTAPI_PRO_AUTH__SECRET_KEY) is not set" in caplog.text


@pytest.mark.parametrize(("token", "warned"), [(None, True), ("scrape-secret", False)])
def test_production_warns_about_metrics_served_without_a_token(
    database_url: str, caplog: pytest.LogCaptureFixture, token: str | None, warned: bool
) -> None:
    observability = {"metrics_token": token} if token else {}
    settings = make_settings(
        database_url,
        environment="production",
        auth={"secret_key": "a-production-secret-of-32-bytes-or-more"},
        observability=observability,
    )

    setup(make_app(), settings, logging=False)

    assert ("/metrics is served without a token in production" in caplog.text) is warned


async def test_production_without_a_secret_refuses_to_start(database_url: str) -> None:
    app = make_app()
    settings = make_settings(database_url, environment="production")

    with pytest.raises(KeyConfigError, match=r"auth\.secret_key .* is not set, and in production"):
        setup(app, settings, logging=False)

    components = setup(app, settings, auth=False, logging=False)  # nothing was installed
    assert components.auth is None


async def test_swagger_ui_logs_in_through_the_token_url(database_url: str) -> None:
    app = make_app()
    setup(app, make_settings(database_url, auth={"secret_key": SECRET}), token_url="/auth/token")

    scheme = app.openapi()["components"]["securitySchemes"]["BearerToken"]

    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"


async def test_user_loader_goes_to_the_auth_it_builds(database_url: str) -> None:
    async def load(principal: Principal) -> str:
        return principal.subject

    components = setup(make_app(), make_settings(database_url), user_loader=load)
    assert components.auth is not None
    assert components.auth.user_loader is load

    with pytest.raises(ValueError, match="give them to your Auth"):
        setup(make_app(), make_settings(database_url), auth=components.auth, user_loader=load)


async def test_database_token_store_keeps_families_in_the_apps_database(
    database_url: str,
) -> None:
    app = make_app()
    settings = make_settings(database_url, auth={"secret_key": SECRET, "token_store": "database"})
    components = setup(app, settings, metadata=metadata)
    assert components.auth is not None
    auth = components.auth

    async with serve(app):
        pair = await auth.login(Principal(subject="dave"))
        renewed = await auth.refresh(pair.refresh_token)
        assert components.database is not None
        async with components.database.session() as session:
            families = await session.scalar(
                text("SELECT count(*) FROM fastapi_pro_refresh_families WHERE subject = 'dave'")
            )

    assert isinstance(auth.store, SqlTokenStore)
    assert auth.store.database is components.database
    assert renewed.access_token
    assert families == 1


@pytest.mark.redis
async def test_redis_token_store_and_check_use_the_configured_server(
    database_url: str, redis_keys: RedisKeys
) -> None:
    prefix = redis_keys.prefix
    settings = make_settings(
        database_url,
        auth={"secret_key": SECRET, "token_store": "redis"},
        redis={"url": redis_keys.url, "key_prefix": prefix},
    )
    app = make_app()
    components = setup(app, settings)
    assert components.auth is not None
    auth = components.auth

    async with serve(app) as client:
        pair = await auth.login(Principal(subject="erin"))
        renewed = await auth.refresh(pair.refresh_token)
        ready = await client.get("/health/ready")

    keys = await redis_key_names(redis_keys.url, prefix)
    assert isinstance(auth.store, RedisTokenStore)
    assert renewed.access_token
    assert any(key.startswith(f"{prefix}auth:family:".encode()) for key in keys)
    assert ready.json()["checks"]["redis:responseTime"][0]["status"] == "pass"


@pytest.mark.parametrize(
    ("auth", "arguments", "message"),
    [
        ({"token_store": "redis"}, {}, "redis.url is not set"),
        ({"token_store": "database"}, {"database": False}, "setup\\(\\) has no database"),
    ],
    ids=["redis", "database"],
)
async def test_a_token_store_without_its_server_is_refused(
    database_url: str, auth: dict[str, str], arguments: dict[str, Any], message: str
) -> None:
    settings = make_settings(database_url, auth={"secret_key": SECRET, **auth})

    with pytest.raises(ValueError, match=message):
        setup(make_app(), settings, logging=False, **arguments)


async def test_multiprocess_metrics_directory_is_honoured_or_refused(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    # Read from the settings, but this process started without the variable, so
    # prometheus-client keeps samples in memory: setup() refuses instead of losing them.
    # (tests/integration runs the demo under two workers with it exported.)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        setup(make_app(), settings)


@pytest.mark.parametrize("installed", ["observability", "security_headers"])
def test_a_block_installed_by_hand_is_refused_before_anything_changes(
    database_url: str, installed: str
) -> None:
    app = make_app()
    if installed == "observability":
        install_observability(app)
    else:
        install_security_headers(app)
    handlers, routes = dict(app.exception_handlers), list(app.routes)

    with pytest.raises(RuntimeError, match=f"install_{installed}\\(\\) was already called"):
        setup(app, make_settings(database_url), logging=False)

    assert (dict(app.exception_handlers), list(app.routes)) == (handlers, routes)
    components = setup(app, make_settings(database_url), logging=False, **{installed: False})
    assert components.settings is not None


def test_a_misspelt_switch_is_refused_at_the_call_naming_the_closest() -> None:
    app = FastAPI()
    with pytest.raises(TypeError, match=r"'helth'; did you mean 'health'\?"):
        setup(app, health=False, helth=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"argument 'xyzzy'\.$"):
        setup(app, xyzzy=True)  # type: ignore[call-arg]
    # The app was left as it was: setup() still runs on it.
    assert isinstance(setup(app, make_settings("sqlite+aiosqlite://"), auth=False), Components)


def test_every_switch_has_a_default_of_its_own_type() -> None:
    declared = typing.get_type_hints(Switches)
    assert declared == typing.get_type_hints(Options)
    assert list(declared) == [field.name for field in dataclasses.fields(Options)]
