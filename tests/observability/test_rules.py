"""The shipped Prometheus rules: valid for ``promtool check rules``, and each one unit-tested.

The unit tests are ``promtool test rules`` files in ``tests/observability/promtool``; they need
Prometheus's ``promtool`` (Debian: ``apt-get install prometheus``), skipped without it unless
``FASTAPI_PRO_TEST_PROMETHEUS`` is set (as CI sets it): then they fail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fastapi_pro.cli._observability_export import ASSETS, export
from tests.doc_pages import ROOT, code_blocks

PROMTOOL_TESTS = Path(__file__).parent / "promtool"
RECORDING = ASSETS / "fastapi-pro-recording-rules.yml"
ALERTING = ASSETS / "fastapi-pro-alerting-rules.yml"


def rules_of(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def unit_tests() -> list[dict[str, Any]]:
    return [
        test
        for path in sorted(PROMTOOL_TESTS.glob("*.yml"))
        for test in yaml.safe_load(path.read_text())["tests"]
    ]


def run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_both_rule_files(promtool: str) -> None:
    result = run(promtool, "check", "rules", RECORDING, ALERTING)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 13 rules found" in result.stdout
    assert "SUCCESS: 8 rules found" in result.stdout


@pytest.mark.parametrize("tests", sorted(PROMTOOL_TESTS.glob("*.yml")), ids=lambda path: path.stem)
def test_the_rules_pass_their_promtool_unit_tests(promtool: str, tests: Path) -> None:
    result = run(promtool, "test", "rules", tests)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_fail_when_a_rule_is_wrong(promtool: str, tmp_path: Path) -> None:
    """The unit tests are not vacuous: a target-down alert for every job breaks them."""
    broken = ALERTING.read_text().replace(
        "and on (job) group by (job)", "or on (job) group by (job)"
    )
    assert broken != ALERTING.read_text()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / RECORDING.name).write_text(RECORDING.read_text())
    (tmp_path / "rules" / ALERTING.name).write_text(broken)
    tests = (PROMTOOL_TESTS / "alerting_rules_test.yml").read_text()
    tests = tests.replace("../../../src/fastapi_pro/observability/_assets/", "rules/")
    (tmp_path / "alerting_rules_test.yml").write_text(tests)

    result = run(promtool, "test", "rules", tmp_path / "alerting_rules_test.yml")

    assert result.returncode == 1
    assert "alertname: TargetDown" in result.stdout + result.stderr


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = {check["expr"] for test in unit_tests() for check in test.get("promql_expr_test", [])}

    assert {rule["record"] for rule in rules_of(RECORDING)} <= tested


def test_every_alert_is_tested_firing_and_quiet() -> None:
    checks = [check for test in unit_tests() for check in test.get("alert_rule_test", [])]
    firing = {check["alertname"] for check in checks if check["exp_alerts"]}
    quiet = {check["alertname"] for check in checks if not check["exp_alerts"]}
    alerts = {rule["alert"] for rule in rules_of(ALERTING)}

    assert alerts == firing
    assert alerts == quiet


def test_every_alert_has_a_severity_and_says_what_happened() -> None:
    for rule in rules_of(ALERTING):
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_burn_rate_pages_wait_for_no_for_clause() -> None:
    """The short window already ends a page soon after the burn stops (SRE workbook)."""
    burn = [rule for rule in rules_of(ALERTING) if "Budget" in rule["alert"]]

    assert len(burn) == 4
    assert all("for" not in rule for rule in burn)


def test_the_documented_prometheus_config_loads_the_exported_rules(
    promtool: str, tmp_path: Path
) -> None:
    """docs/dashboards.md's prometheus.yml, beside what the export command writes."""
    [block] = [block for block in code_blocks(ROOT / "docs/dashboards.md") if block.lang == "yaml"]
    export(tmp_path / "observability")
    (tmp_path / "prometheus.yml").write_text(block.text)

    result = run(promtool, "check", "config", tmp_path / "prometheus.yml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 13 rules found" in result.stdout
    assert "SUCCESS: 8 rules found" in result.stdout
