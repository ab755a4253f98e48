"""The Grafana dashboard shipped in ``_assets``, written by grafana-foundation-sdk.

Run at development time only, never by a service (the SDK is in the ``dashboards``
dependency group, not a runtime dependency)::

    python -m fastapi_pro.observability._grafana [PATH]

rewrites ``_assets/fastapi-pro-dashboard.json`` (or writes ``PATH``); a test regenerates it
and compares, so the JSON is never edited by hand. Every query reads a ``$job`` variable and
every panel the ``$datasource`` variable, so the dashboard imports into any Grafana with any
Prometheus.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

DASHBOARD_PATH = Path(__file__).parent / "_assets" / "fastapi-pro-dashboard.json"
"""Where the generated dashboard is kept, as package data."""

UID = "fastapi-pro-service"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job=~"$job"'
RATE = "$__rate_interval"
DURATION = "http_server_request_duration_seconds"


REQUESTS = f"rate({DURATION}_count{{{JOB}}}[{RATE}])"
ERRORS = f'rate({DURATION}_count{{{JOB}, http_response_status_code=~"5.."}}[{RATE}])'
BY_CLASS = (
    f'label_replace({REQUESTS}, "status_class", "${{1}}xx", '
    '"http_response_status_code", "([0-9]).*")'
)
WAIT = f"rate(db_client_connection_wait_time_seconds_bucket{{{JOB}}}[{RATE}])"
POOL = "sum by (pool_name) (db_client_connections_{}{{" + JOB + "}})"


@dataclass(frozen=True)
class Chart:
    """One panel: its title, unit, description and (query, legend) pairs."""

    title: str
    unit: str
    description: str
    queries: tuple[tuple[str, str], ...]
    kind: str = "timeseries"


def _latency(quantile: str) -> Chart:
    buckets = f"rate({DURATION}_bucket{{{JOB}}}[{RATE}])"
    expr = f"histogram_quantile({quantile}, sum by (http_route, le) ({buckets}))"
    name = f"p{round(float(quantile) * 100)}"
    description = f"The {name} of request duration per route template."
    return Chart(f"Latency {name} by route", "s", description, ((expr, "{{http_route}}"),))


TRAFFIC = (
    Chart(
        "Request rate by route",
        "reqps",
        "Requests per second per route template (unmatched paths count as one route).",
        ((f"sum by (http_route) ({REQUESTS})", "{{http_route}}"),),
    ),
    Chart(
        "Responses by status class",
        "reqps",
        "Responses per second per status class (2xx, 4xx, 5xx ...).",
        ((f"sum by (status_class) ({BY_CLASS})", "{{status_class}}"),),
    ),
    Chart(
        "Requests in flight",
        "short",
        "Requests being served right now, per HTTP method.",
        (
            (
                f"sum by (http_request_method) (http_server_active_requests{{{JOB}}})",
                "{{http_request_method}}",
            ),
        ),
    ),
)
ERROR_RATIOS = (
    Chart(
        "5xx ratio by route",
        "percentunit",
        "Share of responses that were server errors (5xx), per route template.",
        ((f"sum by (http_route) ({ERRORS}) / sum by (http_route) ({REQUESTS})", "{{http_route}}"),),
    ),
    Chart(
        "5xx ratio",
        "percentunit",
        "Share of all responses that were server errors (5xx).",
        ((f"sum ({ERRORS}) / sum ({REQUESTS})", "5xx"),),
    ),
)
LATENCY = (_latency("0.5"), _latency("0.95"), _latency("0.99"))
DATABASE_POOL = (
    Chart(
        "Pool connections",
        "short",
        "Connections checked out, idle, the pool size and overflow, per pool.",
        tuple(
            (POOL.format(name), f"{{{{pool_name}}}} {name}")
            for name in ("used", "idle", "max", "overflow")
        ),
    ),
    Chart(
        "Pool usage",
        "percentunit",
        "Connections checked out as a share of the pool size; at 100% requests queue.",
        ((f"{POOL.format('used')} / {POOL.format('max')}", "{{pool_name}}"),),
    ),
    Chart(
        "Pool checkout wait p95 / p99",
        "s",
        "Time to check a connection out of the pool.",
        (
            (f"histogram_quantile(0.95, sum by (pool_name, le) ({WAIT}))", "{{pool_name}} p95"),
            (f"histogram_quantile(0.99, sum by (pool_name, le) ({WAIT}))", "{{pool_name}} p99"),
        ),
    ),
    Chart(
        "Pool checkout timeouts",
        "ops",
        "Checkouts per second that timed out (each became a 503).",
        (
            (
                f"sum by (pool_name) (rate(db_client_connection_timeouts_total{{{JOB}}}[{RATE}]))",
                "{{pool_name}}",
            ),
        ),
    ),
)
SERVICE = (
    Chart(
        "Auth failures by reason",
        "ops",
        "Refused credentials per second, by problem code "
        "(invalid_token, insufficient_scope, invalid_grant ...).",
        ((f"sum by (reason) (rate(auth_failures_total{{{JOB}}}[{RATE}]))", "{{reason}}"),),
    ),
    Chart(
        "Health checks (1 passing, 0 failing)",
        "short",
        "The result of each health check's last run; the lowest of all workers.",
        ((f"min by (check) (health_check_status{{{JOB}}})", "{{check}}"),),
    ),
    Chart(
        "Targets up",
        "short",
        "Scrape targets of the job that answered the last scrape.",
        ((f"sum (up{{{JOB}}})", "up"),),
        kind="stat",
    ),
    Chart(
        "Targets down",
        "short",
        "Scrape targets of the job that did not answer the last scrape.",
        ((f"count (up{{{JOB}}} == 0) or vector(0)", "down"),),
        kind="stat",
    ),
)
ROWS = (
    ("Traffic", TRAFFIC),
    ("Errors", ERROR_RATIOS),
    ("Latency", LATENCY),
    ("Database pool", DATABASE_POOL),
    ("Auth, health and targets", SERVICE),
)
"""The dashboard's rows and their panels, top to bottom."""


def _panel(chart: Chart, panel_id: int) -> timeseries.Panel | stat.Panel:
    panel: timeseries.Panel | stat.Panel
    if chart.kind == "stat":
        last = common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        panel = stat.Panel().height(6).reduce_options(last).graph_mode(BigValueGraphMode.NONE)
    else:
        listed = common.VizLegendOptions().display_mode(LegendDisplayMode.LIST).show_legend(True)
        listed = listed.placement(LegendPlacement.BOTTOM)
        tooltip = common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI)
        panel = timeseries.Panel().height(8).fill_opacity(10).legend(listed)
        panel = panel.tooltip(tooltip.sort(SortOrder.DESCENDING))
    panel = panel.id(panel_id).title(chart.title).description(chart.description)
    panel = panel.unit(chart.unit).datasource(DATASOURCE).span(12)
    for letter, (expr, legend) in zip("ABCDEFGH", chart.queries, strict=False):
        query = prometheus.Dataquery().ref_id(letter).expr(expr).legend_format(legend)
        panel = panel.with_target(query.instant() if chart.kind == "stat" else query.range())
    return panel


def _variables(board: dashboard.Dashboard) -> dashboard.Dashboard:
    source = dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
    job = (
        dashboard.QueryVariable("job")
        .label("Job")
        .datasource(DATASOURCE)
        .query(f"label_values({DURATION}_count, job)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".+")
    )
    return board.with_variable(source).with_variable(job)


def _board() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("fastapi-pro service")
        .uid(UID)
        .description(
            "Requests, errors, latency, database pool, auth and health of fastapi-pro services."
        )
        .tags(["fastapi-pro", "fastapi"])
        .time("now-1h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .timezone("browser")
        .editable()
    )


def build() -> dict[str, object]:
    """The dashboard as Grafana's JSON model."""
    board = _variables(_board())
    ids = itertools.count(1)
    for title, charts in ROWS:
        board = board.with_row(dashboard.Row(title).id(next(ids)))
        for chart in charts:
            board = board.with_panel(_panel(chart, next(ids)))
    model: dict[str, object] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return model


def render() -> str:
    """The dashboard's JSON text, as written to `DASHBOARD_PATH`."""
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> None:
    """Write the dashboard to the path in ``argv`` (`DASHBOARD_PATH` when none is given)."""
    path = Path(argv[0]) if argv else DASHBOARD_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
