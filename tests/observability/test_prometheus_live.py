"""The exported dashboard and rules against a real Prometheus scraping the real demo.

``fastapi-pro demo`` serves the orders example with two workers (metrics shared through
``PROMETHEUS_MULTIPROC_DIR``) on a scratch PostgreSQL database reached through a TCP proxy the
test owns. A Prometheus of the test's own scrapes it every second and evaluates the rules that
``fastapi-pro observability export`` wrote. The test drives successes and client errors, a
burst that the one-connection pools cannot serve in time, then refuses the database so
requests get 503; it then asks Prometheus's HTTP API for every dashboard query and every
recorded series, waits for the fast-burn page to fire, stops the demo and sees the target-down
alert start.

It needs ``prometheus`` (Debian: ``apt-get install prometheus``) and PostgreSQL; skipped without
them unless ``FASTAPI_PRO_TEST_PROMETHEUS`` (and ``FASTAPI_PRO_TEST_POSTGRES_URL``) are set, as
CI sets them: then it fails.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import yaml

from fastapi_pro.cli._observability_export import ASSETS, export
from tests.faults.proxy import FaultProxy
from tests.servers import free_port, stop

JOB = "fastapi-pro-demo"
DEADLINE = 100.0
"""Seconds the whole test may take, start-up and shut-down included."""


def test_every_panel_and_rule_has_data_and_alerts_fire(
    prometheus_server: str, postgres_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    with ExitStack() as stack:
        proxy, demo, prometheus = start(stack, prometheus_server, postgres_url, tmp_path)
        authorization = drive_traffic(demo.url)
        burst(demo.url, authorization)
        proxy.refuse()
        refused = [get_products(demo.url, authorization) for _ in range(40)]
        assert set(refused) == {503}
        wait_for_alert(prometheus, "HttpErrorBudgetFastBurn", "firing")
        proxy.restore()

        assert_every_dashboard_query_has_data(prometheus)
        assert_every_recording_rule_has_data(prometheus)
        wait_for_alert(prometheus, "DatabasePoolCheckoutTimeouts", "firing")

        demo.stop()
        wait_for_alert(prometheus, "TargetDown", "pending")  # `for: 1m`
    assert time.monotonic() - started < DEADLINE


# -- the services ----------------------------------------------------------------------------


class Demo:
    """``fastapi-pro demo`` in a process group of its own (uvicorn's supervisor and workers)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Interrupt the supervisor and its workers; kill them if they linger."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start(
    stack: ExitStack, prometheus_binary: str, postgres_url: str, tmp_path: Path
) -> tuple[FaultProxy, Demo, str]:
    """The proxy, the demo behind it, and Prometheus once it has scraped the demo."""
    database = stack.enter_context(scratch_database(postgres_url))
    upstream = urlsplit(postgres_url)
    host, port = upstream.hostname or "127.0.0.1", upstream.port or 5432
    proxy = stack.enter_context(FaultProxy(host, port))
    url = database_url(postgres_url, proxy.port, database)
    demo = stack.enter_context(demo_service(tmp_path, url))
    prometheus = stack.enter_context(prometheus_scraping(prometheus_binary, tmp_path, demo))
    wait_for(lambda: has_data(query(prometheus, f'up{{job="{JOB}"}} == 1')), "a scrape")
    return proxy, demo, prometheus


@contextmanager
def demo_service(tmp_path: Path, url: str) -> Iterator[Demo]:
    """Serve the demo with two workers and pools of one connection that wait 10 ms at most."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FASTAPI_PRO_")}
    env |= {
        "FASTAPI_PRO_DATABASE__POOL_SIZE": "1",
        "FASTAPI_PRO_DATABASE__MAX_OVERFLOW": "0",
        "FASTAPI_PRO_DATABASE__POOL_TIMEOUT": "0.01",
        "FASTAPI_PRO_OBSERVABILITY__ACCESS_LOG_ENABLED": "false",
    }
    command = [
        sys.executable,
        "-m",
        "fastapi_pro.cli",
        "demo",
        "--workers",
        "2",
        "--port",
        str(port),
    ]
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--database-url", url],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the workers are stopped with it
        )
    demo = Demo(process, port, log)
    try:
        ready = f"{demo.url}/health/ready"  # two workers importing at once: slow on 2 busy cores
        wait_for(lambda: answers(ready, process), "the demo", timeout=60, log=log)
        yield demo
    finally:
        demo.stop()


@contextmanager
def prometheus_scraping(binary: str, tmp_path: Path, demo: Demo) -> Iterator[str]:
    """A Prometheus on a free port, scraping ``demo`` every second with the exported rules."""
    rules = export(tmp_path / "exported")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rules if path.suffix == ".yml"],
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{demo.port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/-/ready", process), "Prometheus", log=log)
        yield url
    finally:
        stop(process)


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"fastapi_pro_dash_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def database_url(admin_url: str, port: int, name: str) -> str:
    """``admin_url``'s credentials, on the proxy's port, for the scratch database."""
    parts = urlsplit(admin_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return f"postgresql://{credentials}127.0.0.1:{port}/{name}"


# -- the traffic -----------------------------------------------------------------------------


def drive_traffic(base: str) -> str:
    """Successes and client errors (404, 401 for a bad token, 400 for a bad password, 422), one
    request at a time, over a few scrapes.

    Returns:
        The ``Authorization`` header of the demo customer.
    """
    with httpx.Client(base_url=base, timeout=10) as client:
        login = {"username": "alice@example.com", "password": "alice-password"}
        token = client.post("/auth/token", data=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        for n in range(6):
            expect(client.get("/products"), 200)
            expect(client.get("/users/me"), 200)
            expect(client.get("/orders"), 200)
            expect(client.get("/products/987654"), 404)
            expect(client.get("/users/me", headers={"Authorization": "Bearer not-a-jwt"}), 401)
            # a wrong password for a new username each time: within the login limits
            wrong = {"username": f"guess{n}@example.com", "password": "wrong"}
            expect(client.post("/auth/token", data=wrong), 400)
            expect(client.get("/products", params={"limit": "many"}), 422)
            time.sleep(0.5)
        return client.headers["Authorization"]


def burst(base: str, authorization: str) -> None:
    """More concurrent requests than the pools serve within their 10 ms wait: some get 503."""
    headers = {"Authorization": authorization}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=10) as client,
        ThreadPoolExecutor(24) as pool,
    ):
        statuses = list(pool.map(lambda _: client.get("/products").status_code, range(96)))
    assert set(statuses) <= {200, 503}
    assert 200 in statuses


def get_products(base: str, authorization: str) -> int:
    return httpx.get(f"{base}/products", headers={"Authorization": authorization}).status_code


def expect(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.request.url, response.text)


# -- what Prometheus says --------------------------------------------------------------------


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (promql, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def has_data(result: list[dict[str, Any]]) -> bool:
    """Whether a query's result has a series with a number (NaN: a rate of nothing yet)."""
    return any(not math.isnan(float(series["value"][1])) for series in result)


def alert_state(prometheus: str, name: str) -> str | None:
    alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    states = {alert["state"] for alert in alerts if alert["labels"]["alertname"] == name}
    return "firing" if "firing" in states else next(iter(states), None)


def wait_for_alert(prometheus: str, name: str, state: str) -> None:
    """Wait until alert ``name`` is ``state``; else fail showing what the rules evaluated to."""
    try:
        wait_for(lambda: alert_state(prometheus, name) == state, f"{name} {state}")
    except pytest.fail.Exception:
        rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        health = [(r["name"], r["health"], r.get("lastError")) for g in rules for r in g["rules"]]
        pytest.fail(f"{name} not {state} within 30 s; rules: {health}")


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, query) for every query of every panel, variables substituted."""
    from fastapi_pro.observability import _grafana  # noqa: PLC0415 - a development module

    board = json.loads(_grafana.DASHBOARD_PATH.read_text())
    return [
        (panel["title"], target["expr"].replace("$job", JOB).replace("$__rate_interval", "1m"))
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def assert_every_dashboard_query_has_data(prometheus: str) -> None:
    queries = dashboard_queries()
    for title, promql in queries:
        assert has_data(query(prometheus, promql)), f"panel {title!r}: no data for {promql}"
    assert len(queries) == 20


def assert_every_recording_rule_has_data(prometheus: str) -> None:
    """Each recording rule (the quantile rules told apart by their label) has a number."""
    groups = yaml.safe_load((ASSETS / "fastapi-pro-recording-rules.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 13
    for rule in rules:
        labels = {"job": JOB, **rule.get("labels", {})}
        selector = rule["record"] + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        wait_for(lambda selector=selector: has_data(query(prometheus, selector)), selector)


def answers(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"the server exited with status {process.returncode}"
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 30.0, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"{what} not seen within {timeout:.0f} s\n{tail}")
        time.sleep(0.25)
