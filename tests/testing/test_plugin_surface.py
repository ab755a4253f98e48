"""The plugin's surface as documented: its fixtures and their scopes, its options, its messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.testing.test_plugin import CONFIGURED, SAMPLE_APP

ROOT = Path(__file__).parents[2]

# The fixture table of the testing guide: `name` | scope | what it is.
DOCUMENTED = dict(
    re.findall(r"^\| `(\w+)` \| (\w+) \|", (ROOT / "docs" / "testing.md").read_text(), re.MULTILINE)
)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("FASTAPI_PRO_TEST_DATABASE_URL", "FASTAPI_PRO_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(sampleapp=SAMPLE_APP)
    pytester.makefile(".toml", pyproject=CONFIGURED)
    return pytester


def test_the_guide_documents_fourteen_fixtures() -> None:
    assert len(DOCUMENTED) == 14  # the table parsed: the two tests below check each row


def test_every_documented_fixture_is_there_with_its_scope(project: pytest.Pytester) -> None:
    result = project.runpytest("--fixtures")
    assert result.ret == 0
    for name, scope in DOCUMENTED.items():
        shown = "" if scope == "function" else rf" \[{scope} scope\]"
        result.stdout.re_match_lines([rf"^{name}{shown} -- "])


def test_without_the_extra_every_documented_fixture_names_the_extra(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(block_httpx="import sys\nsys.modules['httpx'] = None\n")
    project.makepyfile(
        test_each="\n".join(f"def test_{name}({name}):\n    pass\n" for name in DOCUMENTED)
    )
    result = project.runpytest_subprocess("-p", "block_httpx", "test_each.py")
    result.assert_outcomes(errors=len(DOCUMENTED))
    message = (
        "fastapi-pro's pytest fixtures need httpx, which is not installed. "
        "Install the 'testing' extra: pip install 'fastapi-pro[testing]'"
    )
    assert result.stdout.lines.count(message) == len(DOCUMENTED)


@pytest.mark.parametrize(
    ("options", "environment", "expected"),
    [
        (["--fastapi-pro-database-url=FLAG", "-o", "fastapi_pro_database_url=INI"], "ENV", "FLAG"),
        (["-o", "fastapi_pro_database_url=INI"], "ENV", "ENV"),
        (["-o", "fastapi_pro_database_url=INI"], None, "INI"),
    ],
)
def test_the_database_url_comes_from_the_flag_then_the_environment_then_the_ini_option(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    environment: str | None,
    expected: str,
) -> None:
    def url(name: str) -> str:
        return f"sqlite+aiosqlite:///{project.path / name.lower()}.db"

    if environment is not None:
        monkeypatch.setenv("FASTAPI_PRO_TEST_DATABASE_URL", url(environment))
    project.makepyfile(
        test_url=f"def test_url(fastapi_database_url):\n"
        f"    assert fastapi_database_url == {url(expected)!r}\n"
    )
    options = [option.replace("=FLAG", f"={url('FLAG')}") for option in options]
    options = [option.replace("=INI", f"={url('INI')}") for option in options]
    project.runpytest(*options, "test_url.py").assert_outcomes(passed=1)


PLAIN_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root():
    return {"ok": True}
"""


def test_an_app_without_a_database_is_served_and_its_database_fixture_says_why_not(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        plain=PLAIN_APP,
        test_plain="""
        async def test_client(fastapi_client):
            assert (await fastapi_client.get("/")).json() == {"ok": True}

        def test_database(fastapi_database):
            pass
        """,
    )
    result = project.runpytest_subprocess("-o", "fastapi_pro_app=plain:app", "test_plain.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*The app registers no Database: use Database.lifespan*"])


def test_metadata_none_creates_no_tables(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_tables="""
        from sqlalchemy import inspect

        async def test_no_tables(fastapi_session):
            connection = await fastapi_session.connection()
            assert await connection.run_sync(lambda c: inspect(c).get_table_names()) == []
        """
    )
    result = project.runpytest_subprocess("-o", "fastapi_pro_metadata=none", "test_tables.py")
    result.assert_outcomes(passed=1)
