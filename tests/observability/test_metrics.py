from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from fastapi_pro.db import Database
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.observability import Metrics, install_observability
from tests.observability.conftest import Spans, client_for, samples, value


def app_with(metrics: Metrics, spans: Spans | None = None, **router_options: object) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/hello")
    async def hello() -> str:
        return "hi"

    app.include_router(metrics.router(**router_options))  # type: ignore[arg-type]
    install_observability(app, metrics=metrics, tracer_provider=spans.provider if spans else None)
    return app


async def test_metrics_route_serves_the_text_format_and_excludes_itself(metrics: Metrics) -> None:
    async with client_for(app_with(metrics)) as client:
        await client.get("/hello")
        first = await client.get("/metrics")
        await client.get("/metrics")

    assert first.headers["content-type"].startswith("text/plain; version=")
    assert "http_server_request_duration_seconds_bucket" in first.text
    assert value(metrics, "http_server_request_duration_seconds_count", http_route="/hello") == 1
    assert (
        samples(metrics, "http_server_request_duration_seconds_count", http_route="/metrics") == []
    )


async def test_exemplars_carry_the_trace_id_under_openmetrics(
    metrics: Metrics, spans: Spans
) -> None:
    async with client_for(app_with(metrics, spans)) as client:
        await client.get("/hello")
        response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    trace_id = format(spans.one().context.trace_id, "032x")
    exemplars = [
        sample.exemplar
        for family in parse_openmetrics(response.text)
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert [e.labels["trace_id"] for e in exemplars] == [trace_id]


async def test_metrics_can_require_a_token(metrics: Metrics) -> None:
    async with client_for(app_with(metrics, token="scrape-secret")) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "scrape-secret" not in wrong.text
    assert right.status_code == 200


async def test_metrics_can_be_limited_to_networks(metrics: Metrics) -> None:
    async with client_for(app_with(metrics, allow=["10.0.0.0/8"])) as client:
        refused = await client.get("/metrics")
    async with client_for(app_with(Metrics(), allow=["127.0.0.0/8"])) as client:
        allowed = await client.get("/metrics")

    assert refused.status_code == 403
    assert allowed.status_code == 200


async def test_app_metrics_live_in_the_same_registry(metrics: Metrics) -> None:
    paid = Metrics(namespace="shop").counter("orders_paid_total", "Orders paid.", ["currency"])
    own = metrics.histogram("checkout_seconds", "Checkout time.")
    own.observe(0.2)
    paid.labels("EUR").inc()

    assert value(metrics, "checkout_seconds_count") == 1


async def test_database_pool_gauges(metrics: Metrics, tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=3)
    metrics.track_database(db, "main")
    async with db.engine.connect():
        in_use = value(metrics, "db_client_connections_used", pool_name="main")
    await db.dispose()

    assert in_use == 1
    assert value(metrics, "db_client_connections_max", pool_name="main") == 3


def test_multiprocess_mode_aggregates_every_worker(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    worker = textwrap.dedent(
        f"""
        from fastapi_pro.observability import Metrics
        metrics = Metrics(multiprocess_dir={str(directory)!r})
        metrics.http.started("GET")
        metrics.http.finished(("GET", "/x", "200"), 0.1, 0, 2, None)
        """
    )
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": ""}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=environment, check=True)

    reader = textwrap.dedent(
        f"""
        from fastapi_pro.observability import Metrics
        print(Metrics(multiprocess_dir={str(directory)!r}).render()[0].decode())
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", reader], env=environment, check=True, capture_output=True, text=True
    ).stdout
    lines = [
        line
        for line in output.splitlines()
        if line.startswith("http_server_request_duration_seconds_count")
    ]
    labels = 'http_request_method="GET",http_response_status_code="200",http_route="/x"'
    assert lines == [f"http_server_request_duration_seconds_count{{{labels}}} 2.0"]


def test_from_settings_turns_on_multiprocess_mode_from_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fastapi_pro import Settings  # noqa: PLC0415 - only this test reads settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert Metrics.from_settings(Settings()).multiprocess_dir is None
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # This process imported prometheus-client without the variable, so its samples could not
    # be shared: multiprocess mode is refused rather than silently left in memory.
    with pytest.raises(RuntimeError, match="before the process starts"):
        Metrics.from_settings(Settings())


def test_multiprocess_mode_from_a_dotenv_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fastapi_pro import Settings  # noqa: PLC0415 - only this test reads settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    (tmp_path / ".env").write_text(f"PROMETHEUS_MULTIPROC_DIR={tmp_path}\n")
    assert Settings().prometheus_multiproc_dir == str(tmp_path)
    with pytest.raises(RuntimeError, match=r"a \.env file is read too late"):
        Metrics.from_settings(Settings())


async def test_the_metrics_token_must_come_as_a_bearer_token(metrics: Metrics) -> None:
    async with client_for(app_with(metrics, token="scrape-secret")) as client:
        bare = await client.get("/metrics", headers={"Authorization": "scrape-secret"})
        lower = await client.get("/metrics", headers={"Authorization": "bearer scrape-secret"})

    assert bare.status_code == 401
    assert lower.status_code == 200


def test_the_lower_case_variable_prometheus_client_honours_is_accepted(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from fastapi_pro.observability import Metrics\n"
        "print(Metrics(multiprocess_dir=sys.argv[1]).multiprocess_dir)\n"
    )
    env = {**os.environ, "prometheus_multiproc_dir": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    output = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert output.strip() == str(tmp_path)


async def test_overflow_gauge_counts_only_connections_beyond_the_pool_size(
    metrics: Metrics, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=2, max_overflow=2)
    metrics.track_database(db, "main")
    seen: list[float | None] = [value(metrics, "db_client_connections_overflow", pool_name="main")]
    async with db.engine.connect():  # the pool is not full: SQLAlchemy says -1 here
        seen.append(value(metrics, "db_client_connections_overflow", pool_name="main"))
        async with db.engine.connect(), db.engine.connect():
            seen.append(value(metrics, "db_client_connections_overflow", pool_name="main"))
    await db.dispose()

    assert seen == [0, 0, 1]
