"""The shipped Grafana dashboard: what the generator writes, portable, and complete.

Whether every query returns data from a real service is `test_prometheus_live`'s part.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi_pro.observability import _grafana

DASHBOARD: dict[str, Any] = json.loads(_grafana.DASHBOARD_PATH.read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def queries() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def substituted(expr: str, job: str = "api") -> str:
    """A panel's query as Grafana sends it for one job over a 1-minute rate interval."""
    return expr.replace("$__rate_interval", "1m").replace("$job", job)


def test_the_shipped_dashboard_is_what_the_generator_writes() -> None:
    assert _grafana.DASHBOARD_PATH.read_text() == _grafana.render(), (
        "The dashboard was edited by hand, or the generator changed: run "
        "`python -m fastapi_pro.observability._grafana` and commit the result."
    )


def test_running_the_generator_writes_the_shipped_dashboard(tmp_path: Path) -> None:
    written = tmp_path / "board" / "dashboard.json"
    command = [sys.executable, "-m", "fastapi_pro.observability._grafana", str(written)]
    subprocess.run(command, check=True, timeout=60)

    assert written.read_bytes() == _grafana.DASHBOARD_PATH.read_bytes()


def test_it_imports_anywhere_through_a_datasource_and_a_job_variable() -> None:
    variables = {variable["name"]: variable for variable in DASHBOARD["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query"
    assert variables["job"]["datasource"]["uid"] == "${datasource}"
    assert "__inputs" not in DASHBOARD  # no data source to pick at import but the variable
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert 'job=~"$job"' in target["expr"], panel["title"]


def test_panels_have_unique_ids_and_every_query_a_reference() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]

    assert len(ids) == len(set(ids))
    for panel in panels():
        refs = [target["refId"] for target in panel["targets"]]
        assert refs == [chr(ord("A") + index) for index in range(len(refs))], panel["title"]


def test_it_shows_traffic_errors_latency_pool_auth_health_and_targets() -> None:
    text = "\n".join(queries())

    for needed in (
        "http_server_request_duration_seconds_count",
        'http_response_status_code=~"5.."',
        "status_class",
        "http_server_active_requests",
        "db_client_connections_used",
        "db_client_connections_idle",
        "db_client_connections_max",
        "db_client_connections_overflow",
        "db_client_connection_wait_time_seconds_bucket",
        "db_client_connection_timeouts_total",
        "sum by (reason) (rate(auth_failures_total",
        "health_check_status",
        "up{",
    ):
        assert needed in text, needed
    quantiles = re.findall(r"histogram_quantile\((0\.\d+), sum by \(http_route, le\)", text)
    assert quantiles == ["0.5", "0.95", "0.99"]


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """``promtool check rules`` parses each query, as a recording rule of its own."""
    rules = [
        f"      - record: panel_query_{index}\n        expr: {json.dumps(substituted(expr))}"
        for index, expr in enumerate(queries())
    ]
    path = tmp_path / "queries.yml"
    path.write_text("groups:\n  - name: panels\n    rules:\n" + "\n".join(rules) + "\n")

    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
