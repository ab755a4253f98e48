"""Database URLs: the async driver for a plain URL, and whether two URLs name one database."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

DEFAULT_URL = "sqlite+aiosqlite:///./app.db"

# Plain URLs (``postgresql://``, as most platforms hand them out) get the async driver.
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str | URL) -> URL:
    """Return ``url`` with its backend's async driver when it names none.

    ``postgresql://`` and ``postgres://`` get asyncpg, ``sqlite://`` gets aiosqlite; a URL
    that names a driver is returned as it is: ``async_url("postgres://app@db/app")`` is
    ``postgresql+asyncpg://app@db/app``. `Database` applies it to the URL it is given.

    Raises:
        sqlalchemy.exc.ArgumentError: When ``url`` is not a database URL.
    """
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed if driver is None else parsed.set(drivername=driver)


def is_memory(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database (one connection, no file)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def same_database(left: str | URL, right: str | URL) -> bool:
    """Whether two URLs name the same database (drivers and passwords aside)."""
    a, b = async_url(left), async_url(right)
    return (a.get_backend_name(), a.host, a.port, a.database) == (
        b.get_backend_name(),
        b.host,
        b.port,
        b.database,
    )


def shown(url: URL) -> str:
    """``url`` as text for a message, its password hidden."""
    return url.render_as_string(hide_password=True)
