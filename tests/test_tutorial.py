"""The tutorial's project passes its own tests, as the tutorial shows it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).parent.parent / "docs" / "examples" / "tutorial"
TESTS = 8


def copy_tutorial(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        TUTORIAL, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )


def test_the_tutorials_project_passes_on_sqlite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTAPI_PRO_TEST_DATABASE_URL", raising=False)
    copy_tutorial(pytester)
    pytester.runpytest_subprocess().assert_outcomes(passed=TESTS)


@pytest.mark.postgres
def test_the_tutorials_project_passes_on_postgresql(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_database: str
) -> None:
    copy_tutorial(pytester)
    monkeypatch.setenv("FASTAPI_PRO_TEST_DATABASE_URL", postgres_database)
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=TESTS)
