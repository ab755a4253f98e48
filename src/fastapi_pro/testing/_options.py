"""The plugin's configuration: ini options, command-line flag and marker, and reading them."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import pytest

APP_OPTION = "fastapi_pro_app"
DATABASE_URL_OPTION = "fastapi_pro_database_url"
METADATA_OPTION = "fastapi_pro_metadata"
DATABASE_URL_ENV = "FASTAPI_PRO_TEST_DATABASE_URL"
DATABASE_URL_FLAG = "--fastapi-pro-database-url"
NO_ROLLBACK = "fastapi_pro_no_rollback"


class IniOption(NamedTuple):
    """One ini option, as ``parser.addini`` takes it."""

    name: str
    help: str
    default: str


INI_OPTIONS = (
    IniOption(
        APP_OPTION,
        "fastapi-pro: the app under test, 'package.module:app' or an app factory.",
        "",
    ),
    IniOption(
        DATABASE_URL_OPTION,
        "fastapi-pro: the test database URL (default: a temporary SQLite file).",
        "",
    ),
    IniOption(
        METADATA_OPTION,
        "fastapi-pro: the MetaData whose tables are created once per run ('none': create none).",
        "fastapi_pro.db:Base.metadata",
    ),
)

MARKERS = (
    f"{NO_ROLLBACK}: fastapi-pro: run this test's requests in real transactions, not in "
    "the rolled-back one (tests of concurrency); the test cleans up after itself.",
)


def add_options(parser: pytest.Parser) -> None:
    """Register the ini options and the command-line flag."""
    for option in INI_OPTIONS:
        parser.addini(option.name, option.help, default=option.default)
    parser.getgroup("fastapi-pro").addoption(
        DATABASE_URL_FLAG,
        dest=DATABASE_URL_OPTION,
        default=None,
        help=f"Test database URL; overrides ${DATABASE_URL_ENV} and the ini option.",
    )


def database_url(config: pytest.Config) -> str | None:
    """The configured test database URL: the flag, then the environment, then the ini option."""
    url = (
        config.getoption(DATABASE_URL_OPTION)
        or os.environ.get(DATABASE_URL_ENV)
        or config.getini(DATABASE_URL_OPTION)
    )
    return str(url) if url else None


def worker(config: pytest.Config) -> str | None:
    """The pytest-xdist worker running this process (``gw0``, ...); None outside xdist."""
    # xdist's own record, not $PYTEST_XDIST_WORKER, which a nested pytest run inherits.
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    name = workerinput.get("workerid")
    return str(name) if name else None
