"""The orders demo under two uvicorn workers, on PostgreSQL and Redis, as it runs in production.

A refresh token revoked through one worker must be refused by the other, and ``/metrics``
must add up the requests of both. Which worker served a request is read off Prometheus'
multiprocess files, one set per worker process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from examples.orders.seed import main as seed
from fastapi_pro import Settings
from tests.conftest import RedisKeys
from tests.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).parents[2]
REQUESTS = "http_server_request_duration_seconds_count"


def served_by_worker(directory: Path) -> dict[str, float]:
    """Requests each worker process has recorded so far, by pid."""
    counts: dict[str, float] = {}
    for path in directory.glob("histogram_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        try:
            metrics = MultiProcessCollector.merge([str(path)], accumulate=True)
        except struct.error:  # a worker is creating its file right now
            continue
        counts[pid] = sum(
            sample.value
            for metric in metrics
            for sample in metric.samples
            if sample.name == REQUESTS
        )
    return counts


@pytest.fixture
def demo_database(scratch_database: str) -> str:
    """A database of the demo's own: other suites' tables must not be in its way."""
    return scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def demo(tmp_path: Path, demo_database: str, redis_keys: RedisKeys) -> Iterator[tuple[str, Path]]:
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    env = {
        **os.environ,
        "FASTAPI_PRO_DATABASE__URL": demo_database,
        "FASTAPI_PRO_DATABASE__CURSOR_SECRET": "cursor-secret-shared-by-every-worker",
        "FASTAPI_PRO_AUTH__SECRET_KEY": "a-signing-key-shared-by-every-worker-0123",
        "FASTAPI_PRO_AUTH__TOKEN_STORE": "redis",
        "FASTAPI_PRO_REDIS__URL": redis_keys.url,
        "FASTAPI_PRO_REDIS__KEY_PREFIX": redis_keys.prefix,  # deleted after the test
        "FASTAPI_PRO_OBSERVABILITY__ACCESS_LOG_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    settings_env = {k: v for k, v in env.items() if k.startswith("FASTAPI_PRO_")}
    previous = {k: os.environ.get(k) for k in settings_env}
    os.environ.update(settings_env)
    try:
        asyncio.run(seed(Settings()))
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "examples.orders.main:create_app",
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the demo exited during start-up"
            assert time.monotonic() < deadline, "the demo did not become ready within 60 s"
            time.sleep(0.2)
        yield base_url, multiproc
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def send(
    base_url: str, multiproc: Path, method: str, path: str, **kwargs: object
) -> tuple[httpx.Response, str]:
    """Send one request on a new connection; return the response and the pid that served it."""
    before = served_by_worker(multiproc)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while True:
        after = served_by_worker(multiproc)
        changed = [pid for pid, n in after.items() if n > before.get(pid, 0.0)]
        if changed:
            return response, changed[0]
        assert time.monotonic() < deadline, "no worker recorded the request"
        time.sleep(0.01)


def until_served_by_another(
    base_url: str, multiproc: Path, exclude: str, path: str, **kwargs: object
) -> tuple[httpx.Response, str]:
    """POST ``path`` on new connections until a worker other than ``exclude`` serves it."""
    for _ in range(200):
        response, pid = send(base_url, multiproc, "POST", path, **kwargs)
        if pid != exclude:
            return response, pid
    pytest.fail("every request went to the same worker")


def test_a_refresh_token_revoked_on_one_worker_is_refused_by_the_other(
    demo: tuple[str, Path],
) -> None:
    base_url, multiproc = demo
    login = {"username": "alice@example.com", "password": "alice-password"}
    response, _ = send(base_url, multiproc, "POST", "/auth/token", data=login)
    assert response.status_code == 200, response.text
    refresh = response.json()["refresh_token"]

    response, revoked_on = send(
        base_url, multiproc, "POST", "/auth/logout", json={"refresh_token": refresh}
    )
    assert response.status_code < 300, response.text
    grant = {"grant_type": "refresh_token", "refresh_token": refresh}
    response, refused_on = until_served_by_another(
        base_url, multiproc, revoked_on, "/auth/token", data=grant
    )
    assert refused_on != revoked_on
    assert response.status_code in (400, 401), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_metrics_add_up_the_requests_of_both_workers(demo: tuple[str, Path]) -> None:
    base_url, multiproc = demo
    pids: set[str] = set()
    sent = 0
    while len(pids) < 2 and sent < 200:
        response, pid = send(base_url, multiproc, "GET", "/products")
        assert response.status_code == 401  # no token: still a request, still counted
        pids.add(pid)
        sent += 1
    assert len(pids) == 2, "one worker served every request"
    per_worker = served_by_worker(multiproc)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        text = client.get("/metrics").text
    total = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == REQUESTS
    )
    assert total == sum(per_worker.values())
    assert all(count > 0 for count in per_worker.values())
    assert total >= sent
