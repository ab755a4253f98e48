"""The databases a test may touch: every `Database` on another URL refuses to start or work."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.engine import URL

from fastapi_pro.db._urls import async_url, same_database, shown

# Set by the test plugin while the app under test starts and runs: the only database it may use.
_allowed_databases: ContextVar[tuple[URL, ...] | None] = ContextVar(
    "fastapi_pro_allowed_databases", default=None
)


@contextmanager
def only_database(*urls: str | URL) -> Generator[None, None, None]:
    """Make every `Database` on other URLs refuse to start, open sessions or create tables.

    Holds inside the block and in tasks started in it: the test plugin runs the app's start-up
    and every request under it, so tests never touch a database that is not theirs (code that
    takes connections from ``database.engine`` itself is not checked).

    Example:
        ```python
        with only_database("sqlite+aiosqlite:///./test.db"):
            ...  # a Database on any other URL raises RuntimeError here
        ```
    """
    token = _allowed_databases.set(tuple(async_url(url) for url in urls))
    try:
        yield
    finally:
        _allowed_databases.reset(token)


def check_allowed(url: URL) -> None:
    """Refuse ``url`` inside an `only_database` block that does not name it.

    Raises:
        RuntimeError: Naming both databases and how to build the app on the test one.
    """
    allowed = _allowed_databases.get()
    if allowed is None or any(same_database(url, other) for other in allowed):
        return
    tests = ", ".join(shown(other) for other in allowed)
    msg = (
        f"This Database uses {shown(url)}, not the test database ({tests}); it refuses to "
        "touch it. Build the app's Database from Settings() inside the app factory (the "
        "test plugin sets FASTAPI_PRO_DATABASE__URL before it imports and builds the app), "
        "or allow a further test database with run_app(..., allow=[url])."
    )
    raise RuntimeError(msg)
