"""The metrics the database, auth and health blocks feed through their listeners."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentPrincipal, Principal, password_flow_router, require_scopes
from fastapi_pro.db import Database, SessionDep
from fastapi_pro.health import Health
from fastapi_pro.observability import Metrics
from tests.observability.conftest import samples, value
from tests.servers import in_process as serve

SECRET = "a-test-signing-secret-of-32-bytes-or-more"


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    yield database
    await database.dispose()


pytestmark = pytest.mark.usefixtures("restore_logging")


# -- the pool ------------------------------------------------------------------------------------


async def test_every_checkout_is_timed(metrics: Metrics, small_pool: Database) -> None:
    metrics.track_database(small_pool, "main")
    for _ in range(3):
        async with small_pool.session() as session:
            await session.execute(text("SELECT 1"))

    assert value(metrics, "db_client_connection_wait_time_seconds_count", pool_name="main") == 3
    assert value(metrics, "db_client_connection_wait_time_seconds_sum", pool_name="main") > 0
    assert value(metrics, "db_client_connection_timeouts_total", pool_name="main") == 0


async def test_a_wait_for_a_busy_pool_is_measured_in_real_time(
    metrics: Metrics, small_pool: Database
) -> None:
    await _select_one(small_pool)  # the connection is open: the next checkouts only wait
    metrics.track_database(small_pool, "main")
    async with small_pool.engine.connect():  # the only connection
        waiting = asyncio.create_task(_select_one(small_pool))
        await asyncio.sleep(0.25)
    await waiting

    assert value(metrics, "db_client_connection_wait_time_seconds_count", pool_name="main") == 2
    assert value(metrics, "db_client_connection_wait_time_seconds_sum", pool_name="main") >= 0.25
    short = samples(metrics, "db_client_connection_wait_time_seconds_bucket", le="0.1")
    assert [sample.value for sample in short] == [1.0]  # the first one: it did not wait


async def _select_one(database: Database) -> None:
    async with database.read() as connection:
        await connection.execute(text("SELECT 1"))


async def test_an_exhausted_pool_counts_a_timeout_and_answers_503(database_url: str) -> None:
    app = FastAPI()

    @app.get("/one")
    async def one(session: SessionDep) -> int:
        return int(await session.scalar(text("SELECT 1")) or 0)

    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    components = setup(app, _settings(database_url), database=database, auth=False)
    assert components.metrics is not None
    async with serve(app) as client:
        async with database.engine.connect():  # the pool's only connection, held
            refused = await client.get("/one")
        served = await client.get("/one")
        scrape = (await client.get("/metrics")).text

    assert refused.status_code == 503
    assert served.status_code == 200
    assert _value(scrape, "db_client_connection_timeouts_total", pool_name="default") == 1
    # the held connection, the timed-out wait, the served request
    assert _value(scrape, "db_client_connection_wait_time_seconds_count", pool_name="default") == 3
    assert _value(scrape, "db_client_connection_wait_time_seconds_sum", pool_name="default") >= 0.2


async def test_the_pool_gauges_follow_the_pool_a_dispose_put_in_place(
    metrics: Metrics, small_pool: Database
) -> None:
    metrics.track_database(small_pool, "main")
    await _select_one(small_pool)
    await small_pool.dispose()  # a lifespan that ends, then starts again: a new pool
    async with small_pool.engine.connect():
        used = value(metrics, "db_client_connections_used", pool_name="main")

    assert used == 1


# -- auth ----------------------------------------------------------------------------------------


def _settings(database_url: str, **sections: Any) -> Settings:
    sections.setdefault("database", {"url": database_url})
    return Settings(_env_file=None, **sections)  # type: ignore[call-arg]


def _auth_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> str:
        return principal.subject

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> str:
        return "yes"

    async def authenticate(username: str, password: str) -> Principal | None:
        return Principal(subject=username) if password == "right" else None

    app.include_router(password_flow_router(authenticate))
    return app


async def test_auth_failures_are_counted_by_problem_code(tmp_path: Path) -> None:
    app = _auth_app()
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    components = setup(app, _settings(url, auth={"secret_key": SECRET}))
    assert components.auth is not None
    token = components.auth.tokens.issue("alice")
    async with serve(app) as client:
        await client.get("/me")
        await client.get("/me", headers={"Authorization": "Bearer not-a-token"})
        await client.get("/me", headers={"Authorization": "Bearer <script>"})
        await client.get("/admin", headers={"Authorization": f"Bearer {token}"})
        await client.post("/auth/token", data={"username": "alice", "password": "wrong"})
        await client.post("/auth/token", data={"grant_type": "made-up"})
        await client.post("/auth/logout", json={"refresh_token": "not-a-token"})
        ok = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        scrape = (await client.get("/metrics")).text

    assert ok.status_code == 200
    assert _by_label(scrape, "auth_failures_total", "reason") == {
        "unauthorized": 1,
        "invalid_token": 3,
        "insufficient_scope": 1,
        "invalid_grant": 1,
        "unsupported_grant_type": 1,
    }


async def test_an_auth_without_listeners_fails_as_before(tmp_path: Path) -> None:
    app = _auth_app()
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    setup(app, _settings(url, auth={"secret_key": SECRET}), metrics=False)

    async with serve(app) as client:
        refused = await client.get("/me")

    assert refused.status_code == 401


# -- health --------------------------------------------------------------------------------------


async def test_health_status_is_the_last_run_of_each_check(metrics: Metrics) -> None:
    results = iter([True, False, True])

    async def flaky() -> None:
        if not next(results):
            raise ConnectionError("down")

    async def steady() -> None:
        return None

    health = Health(cache_ttl=0)
    health.add("flaky", flaky)
    health.add("steady", steady, critical=False)
    metrics.track_health(health)
    seen = []
    for _ in range(3):
        await health.readiness()
        seen.append(value(metrics, "health_check_status", check="flaky"))

    assert seen == [1, 0, 1]
    assert value(metrics, "health_check_status", check="steady") == 1


async def test_setup_reports_the_database_check(tmp_path: Path) -> None:
    app = FastAPI()
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    setup(app, _settings(url), auth=False)

    async with serve(app) as client:
        before = (await client.get("/metrics")).text
        await client.get("/health/ready")
        after = (await client.get("/metrics")).text

    assert _by_label(before, "health_check_status", "check") == {}
    assert _by_label(after, "health_check_status", "check") == {"database": 1}


# -- several worker processes --------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from fastapi_pro.auth import Auth, InvalidTokenError, Key, KeyRing, Tokens
    from fastapi_pro.db import Database
    from fastapi_pro.health import Health
    from fastapi_pro.observability import Metrics

    directory, database_url, held, check_passes = sys.argv[1:5]

    async def check():
        if check_passes != "yes":
            raise ConnectionError("unreachable from this worker")

    async def main():
        metrics = Metrics(multiprocess_dir=directory)
        database = Database(database_url, pool_size=3, max_overflow=0)
        metrics.track_database(database)
        health = Health(cache_ttl=0)
        health.add("upstream", check)
        metrics.track_health(health)
        auth = Auth(Tokens(KeyRing(Key.hmac("x" * 32))))
        metrics.track_auth(auth)
        auth.refused(InvalidTokenError())
        await health.readiness()
        connections = [await database.engine.connect() for _ in range(int(held))]
        print("ready", flush=True)
        for line in iter(sys.stdin.readline, ""):
            if line.strip() == "scrape":
                body = metrics.render()[0].decode()
                print(body.replace("\\n", "|"), flush=True)
            else:
                break
        for connection in connections:
            await connection.close()
        await database.dispose()
        metrics.mark_process_dead()

    asyncio.run(main())
    """
)


class Worker:
    def __init__(self, directory: Path, url: str, held: int, *, passes: bool) -> None:
        environment = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": ""}
        arguments = [str(directory), url, str(held), "yes" if passes else "no"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, *arguments],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def scrape(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write("scrape\n")
        self.process.stdin.flush()
        return self._line().replace("|", "\n")

    def stop(self) -> None:
        self.process.communicate("quit\n", timeout=30)  # and close the pipes
        assert self.process.returncode == 0


def test_several_workers_add_up_and_a_failing_one_shows(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = Worker(directory, url, held=1, passes=True)
    second = Worker(directory, url, held=2, passes=False)
    try:
        both = first.scrape()
        second.stop()
        alone = first.scrape()
    finally:
        first.stop()

    assert _value(both, "db_client_connections_used", pool_name="default") == 3
    assert _value(both, "db_client_connections_max", pool_name="default") == 6
    assert _value(both, "db_client_connections_idle", pool_name="default") == 0
    assert _value(both, "db_client_connection_wait_time_seconds_count", pool_name="default") == 3
    assert _value(both, "auth_failures_total", reason="invalid_token") == 2
    assert _value(both, "health_check_status", check="upstream") == 0  # one worker fails it
    # The stopped worker's live gauges are gone; its counts stay, as counts do.
    assert _value(alone, "db_client_connections_used", pool_name="default") == 1
    assert _value(alone, "db_client_connections_max", pool_name="default") == 3
    assert _value(alone, "health_check_status", check="upstream") == 1
    assert _value(alone, "auth_failures_total", reason="invalid_token") == 2


# -- reading expositions -------------------------------------------------------------------------


def _matching(exposition: str, name: str, **labels: str) -> list[Any]:
    return [
        sample
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def _value(exposition: str, name: str, **labels: str) -> float:
    return sum(sample.value for sample in _matching(exposition, name, **labels))


def _by_label(exposition: str, name: str, label: str) -> dict[str, float]:
    return {sample.labels[label]: sample.value for sample in _matching(exposition, name)}
