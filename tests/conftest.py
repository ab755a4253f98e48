from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis
import redis.asyncio
from loguru import logger
from starlette.types import ASGIApp

ClientFactory = Callable[[ASGIApp], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_for() -> ClientFactory:
    """Open an httpx client on an ASGI app that turns unhandled errors into 500 responses."""

    @asynccontextmanager
    async def open_client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return open_client


POSTGRES_ENV = "FASTAPI_PRO_TEST_POSTGRES_URL"
REDIS_ENV = "FASTAPI_PRO_TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


async def redis_key_names(url: str, prefix: str, **options: Any) -> list[bytes]:
    """The keys under ``prefix`` in the Redis database at ``url``."""
    client = redis.asyncio.Redis.from_url(url, **options)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()


async def delete_redis_keys(url: str, prefix: str) -> list[bytes]:
    """Delete the keys under ``prefix`` in the Redis database at ``url``; return them."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        return keys
    finally:
        await client.aclose()


REDIS_RUN_PREFIX = f"fastapi-pro-test:{uuid.uuid4().hex[:12]}:"
"""Every key the tests of this process write to Redis starts with this (shared) prefix."""


def redis_database_url(url: str, database: int) -> str:
    """``url`` with its database number replaced by ``database``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class RedisKeys:
    """The key prefix of one test on the test Redis server.

    The test, the apps and the servers it starts write their keys under ``prefix`` only; the
    `redis_keys` fixture deletes what is there after the test, in every database the test asked
    for with `database_url`.
    """

    url: str
    prefix: str
    databases: set[int] = field(default_factory=set)

    def database_url(self, database: int) -> str:
        """The server's URL on another database number, cleaned after the test as well."""
        self.databases.add(database)
        return redis_database_url(self.url, database)

    def urls(self) -> list[str]:
        return [self.url, *(redis_database_url(self.url, n) for n in sorted(self.databases))]


LIBRARY_PREFIX = "fastapi-pro:"
"""What the library's keys start with unless told otherwise (`RedisSettings.key_prefix`)."""


@pytest.fixture(scope="session", autouse=True)
def redis_leak_guard() -> Iterator[set[str]]:
    """Fail the test session of a process whose tests left keys in the test Redis server.

    Two kinds of leak: a key under `REDIS_RUN_PREFIX` still there at the end was written after
    its test's `redis_keys` cleaned up (by a server or a task the test did not stop); a new key
    under the library's default prefix was written by a test that did not use `redis_keys`.
    Without a reachable server there is nothing to guard.
    """
    url = os.environ.get(REDIS_ENV) or DEFAULT_REDIS_URL
    try:
        before = set(asyncio.run(redis_key_names(url, LIBRARY_PREFIX, socket_connect_timeout=2)))
    except (OSError, redis.RedisError):
        yield set()
        return
    urls = {url}
    yield urls
    late = [
        key
        for each in sorted(urls)
        for key in asyncio.run(delete_redis_keys(each, REDIS_RUN_PREFIX))
    ]
    stray = sorted(set(asyncio.run(redis_key_names(url, LIBRARY_PREFIX))) - before)
    assert not late, (
        f"{len(late)} Redis keys written after their test's cleanup (deleted now): {late[:5]}"
    )
    assert not stray, f"{len(stray)} Redis keys written outside `redis_keys`' prefix: {stray[:5]}"


@pytest.fixture
def redis_keys(redis_url: str, redis_leak_guard: set[str]) -> Iterator[RedisKeys]:
    """A key prefix of this test on the test Redis server; its keys are deleted after the test."""
    keys = RedisKeys(redis_url, f"{REDIS_RUN_PREFIX}{uuid.uuid4().hex[:12]}:")
    try:
        yield keys
    finally:
        redis_leak_guard.update(keys.urls())
        for url in keys.urls():
            asyncio.run(delete_redis_keys(url, keys.prefix))


def service_unreachable(kind: str, env: str, url: str, error: BaseException) -> None:
    """Fail when the service was asked for by its variable (as CI does); skip otherwise."""
    message = f"{kind} at {url} is unreachable ({type(error).__name__}: {error})"
    if os.environ.get(env):
        pytest.fail(f"{message}; {env} is set, so tests that need it must not be skipped.")
    pytest.skip(f"{message}; set {env} to make this a failure.")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a real PostgreSQL server (asyncpg form), checked once per session."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL

    async def ping() -> None:
        connection = await asyncpg.connect(url, timeout=5)
        await connection.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        service_unreachable("PostgreSQL", POSTGRES_ENV, url, error)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a real Redis server, checked once per session."""
    url = os.environ.get(REDIS_ENV) or DEFAULT_REDIS_URL

    async def ping() -> None:
        client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=5)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (OSError, redis.RedisError) as error:
        service_unreachable("Redis", REDIS_ENV, url, error)
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A scratch PostgreSQL database of this test process, as a SQLAlchemy (asyncpg) URL.

    Its name is random, so xdist workers and test runs sharing one server never collide.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fastapi_pro_test_{worker}_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BROWSER_ENV = "FASTAPI_PRO_TEST_BROWSER"
"""Names the headless browser; when set, the browser tests fail rather than skip."""


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser: ``$FASTAPI_PRO_TEST_BROWSER``, else ``chromium`` on ``PATH``."""
    command = os.environ.get(BROWSER_ENV) or "chromium"
    found = shutil.which(command)
    if found is None:
        message = f"{command!r} is not on PATH (Debian: apt-get install chromium)"
        if os.environ.get(BROWSER_ENV):
            pytest.fail(f"{message}; {BROWSER_ENV} is set, so these tests must not be skipped.")
        pytest.skip(f"{message}; set {BROWSER_ENV} to make this a failure.")
    return found


BROWSER_TIMEOUT = 90.0
"""Seconds one headless Chromium run may take."""


def run_chromium(chromium: str, *arguments: str) -> str:
    """Run headless Chromium in a throw-away profile with ``arguments``; return its output."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                *arguments,
            ],
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT,
            check=True,
        )
    return done.stdout


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`setup` and `configure_logging` configure logging for the process: start the test from
    the unconfigured state (another test may have left it configured), and put it back after."""
    _unconfigure_logging()
    yield
    _unconfigure_logging()


def _unconfigure_logging() -> None:
    logger.remove()
    logging.basicConfig(handlers=[], force=True)
    logging.getLogger("uvicorn.access").disabled = False


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The databases a data test runs on: SQLite always, PostgreSQL when it is reachable."""


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend: a SQLite file, or a scratch PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url
