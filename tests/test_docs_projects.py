"""The projects the tutorial and the testing guide build pass their own tests, as shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
# Each project, and how many tests it holds.
PROJECTS = [("tutorial", 8), ("testing_project", 7)]


def copy_project(pytester: pytest.Pytester, name: str) -> None:
    shutil.copytree(
        EXAMPLES / name,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


@pytest.mark.parametrize(("name", "tests"), PROJECTS)
def test_the_project_passes_on_sqlite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, tests: int
) -> None:
    monkeypatch.delenv("FASTAPI_PRO_TEST_DATABASE_URL", raising=False)
    copy_project(pytester, name)
    pytester.runpytest_subprocess().assert_outcomes(passed=tests)


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "tests"), PROJECTS)
def test_the_project_passes_on_postgresql(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    postgres_database: str,
    name: str,
    tests: int,
) -> None:
    copy_project(pytester, name)
    monkeypatch.setenv("FASTAPI_PRO_TEST_DATABASE_URL", postgres_database)
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=tests)
