"""The pytest plugin (entry point ``pytest11``): fixtures for testing a FastAPI service.

Dormant until a project configures it: it registers options and fixtures, and touches nothing
until a test asks for one of its fixtures. Importing it is cheap and never fails when the
``testing`` extra is missing; the fixtures then fail with a message naming the extra.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from fastapi_pro.db import Database
    from fastapi_pro.testing._auth import ActAs, TokenFactory
    from fastapi_pro.testing._capture import (
        CapturedLogs,
        CapturedMetrics,
        CapturedSpans,
        QueryCounter,
    )

APP_OPTION = "fastapi_pro_app"
DATABASE_URL_OPTION = "fastapi_pro_database_url"
METADATA_OPTION = "fastapi_pro_metadata"
DATABASE_URL_ENV = "FASTAPI_PRO_TEST_DATABASE_URL"
DEFAULT_METADATA = "fastapi_pro.db:Base.metadata"
BASE_URL = "http://test"

_REQUIRED = ("pytest_asyncio", "httpx", "asgi_lifespan")
_MISSING = next((name for name in _REQUIRED if importlib.util.find_spec(name) is None), None)

# Fixtures that live in the session's event loop, where the app and its engine run.
_APP_FIXTURE = "fastapi_app"
_ISOLATION = "_fastapi_pro_isolation"
NO_ROLLBACK = "fastapi_pro_no_rollback"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's ini options and command-line flag."""
    parser.addini(
        APP_OPTION,
        "fastapi-pro: the app under test, 'package.module:app' or an app factory.",
        default="",
    )
    parser.addini(
        DATABASE_URL_OPTION,
        "fastapi-pro: the test database URL (default: a temporary SQLite file).",
        default="",
    )
    parser.addini(
        METADATA_OPTION,
        "fastapi-pro: the MetaData whose tables are created once per run ('none': create none).",
        default=DEFAULT_METADATA,
    )
    group = parser.getgroup("fastapi-pro")
    group.addoption(
        "--fastapi-pro-database-url",
        dest="fastapi_pro_database_url",
        default=None,
        help=f"Test database URL; overrides ${DATABASE_URL_ENV} and the ini option.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker (a marker of its own, so strict markers keep working)."""
    config.addinivalue_line(
        "markers",
        f"{NO_ROLLBACK}: fastapi-pro: run this test's requests in real transactions, not in "
        "the rolled-back one (tests of concurrency); the test cleans up after itself.",
    )


def _fixture_defs(item: pytest.Item) -> dict[str, Sequence[pytest.FixtureDef[Any]]]:
    info = getattr(item, "_fixtureinfo", None)
    return dict(getattr(info, "name2fixturedefs", None) or {})


def _is_ours(fixturedef: pytest.FixtureDef[Any]) -> bool:
    return getattr(fixturedef.func, "__module__", None) == __name__


def _fixture_loop_scope(fixturedef: pytest.FixtureDef[Any], config: pytest.Config) -> str | None:
    """The event loop an async fixture runs in, as pytest-asyncio will decide; None if none."""
    func = fixturedef.func
    explicit = getattr(func, "_force_asyncio_fixture", False)
    if not explicit:
        if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
            return None
        mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
        if mode != "auto":
            return None  # strict mode leaves undecorated async fixtures to pytest itself
    scope = getattr(func, "_loop_scope", None)
    if scope:
        return str(scope)
    default = config.getini("asyncio_default_fixture_loop_scope")
    if default and default != "fixture-scope":
        return str(default)
    return str(fixturedef.scope)


def _app_loop_error(item: pytest.Item, defs: dict[str, Sequence[Any]]) -> str | None:
    """Name a fixture of the project's that uses the app from another event loop, if any."""
    memo: dict[int, bool] = {}

    def uses_app(name: str, index: int = -1) -> bool:
        chain = defs.get(name, ())
        if name == _APP_FIXTURE or not chain or -index > len(chain):
            return name == _APP_FIXTURE
        fixturedef = chain[index]
        key = id(fixturedef)
        if key not in memo:
            memo[key] = False  # cycles count as not using the app
            memo[key] = any(
                uses_app(arg, index - 1 if arg == name else -1) for arg in fixturedef.argnames
            )
        return memo[key]

    for name in getattr(item, "fixturenames", ()):
        chain = defs.get(name) or ()
        if name == _APP_FIXTURE:
            continue
        reachable = []  # the active definition, and those it reaches by requesting its name
        index = -1
        while -index <= len(chain):
            reachable.append(index)
            if name not in chain[index].argnames:
                break
            index -= 1
        for index in reachable:
            fixturedef = chain[index]
            if _is_ours(fixturedef) or not uses_app(name, index):
                continue
            loop_scope = _fixture_loop_scope(fixturedef, item.config)
            if loop_scope is None or loop_scope == "session":
                continue
            via = next(
                arg
                for arg in fixturedef.argnames
                if uses_app(arg, index - 1 if arg == name else -1)
            )
            return (
                f"Fixture {name!r} uses the app (through {via!r}) but runs in the "
                f"{loop_scope!r} event loop, while the app and its engine live in the "
                'session\'s. Declare it with @pytest_asyncio.fixture(loop_scope="session"), or '
                'set asyncio_default_fixture_loop_scope = "session" in the pytest configuration.'
            )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Prepare the tests that use the plugin's fixtures; leave every other test as it is.

    They run in the rolled-back transaction and in the session's event loop, where the app's
    engine lives; a project fixture that uses the app from another loop is reported at set-up.
    """
    if _MISSING is not None or not config.pluginmanager.hasplugin("asyncio"):
        return  # without pytest-asyncio running, nothing here applies
    from pytest_asyncio import is_async_test  # noqa: PLC0415 - only when installed

    for item in items:
        names = getattr(item, "fixturenames", None)
        defs = _fixture_defs(item)
        if names is None or not any(_is_ours(chain[-1]) for chain in defs.values() if chain):
            continue  # no fixture of this plugin: dormant
        if _APP_FIXTURE not in names:
            continue
        # Set up after the wider-scoped fixtures (whose work must outlive the test) and before
        # the project's function-scoped ones, so that nothing they write outlives the test.
        if _ISOLATION in names:  # wherever the closure put it, it must come first: move it
            names.remove(_ISOLATION)
        scopes = [defs[name][-1].scope if defs.get(name) else None for name in names]
        first = next((i for i, scope in enumerate(scopes) if scope == "function"), len(names))
        names.insert(first, _ISOLATION)
        error = _app_loop_error(item, defs)
        if error is not None:
            item.stash[_fixture_loop_error_key] = error
        if not is_async_test(item):
            continue
        marks = {
            mark.kwargs.get("loop_scope") or mark.kwargs.get("scope")
            for mark in item.iter_markers("asyncio")
        } - {None}
        if not marks:
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
        elif marks != {"session"}:
            item.stash[_loop_error_key] = sorted(str(scope) for scope in marks)


_loop_error_key = pytest.StashKey[list[str]]()
_fixture_loop_error_key = pytest.StashKey[str]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse a test, or a fixture of it, that asks for another event loop than the app's."""
    scopes = item.stash.get(_loop_error_key, None)
    if scopes:
        pytest.fail(
            f"{item.nodeid} uses fastapi-pro's app fixtures, which run in the session's event "
            f"loop, but asks for loop_scope={scopes[0]!r}. Remove loop_scope from its "
            "asyncio marker or set it to 'session'.",
            pytrace=False,
        )
    error = item.stash.get(_fixture_loop_error_key, None)
    if error:
        pytest.fail(error, pytrace=False)


def _database_url(config: pytest.Config) -> str | None:
    url = (
        config.getoption("fastapi_pro_database_url")
        or os.environ.get(DATABASE_URL_ENV)
        or config.getini(DATABASE_URL_OPTION)
    )
    return str(url) if url else None


def _worker(config: pytest.Config) -> str | None:
    # xdist's own record, not $PYTEST_XDIST_WORKER, which a nested pytest run inherits.
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    worker = workerinput.get("workerid")
    return str(worker) if worker else None


if _MISSING is not None:

    def _missing(*_: Any) -> Any:
        from fastapi_pro.testing._extras import missing_extra_message  # noqa: PLC0415

        pytest.fail(missing_extra_message(str(_MISSING)), pytrace=False)

    for _name in (
        "fastapi_database_url",
        "fastapi_app",
        "fastapi_database",
        "fastapi_client",
        "fastapi_session",
        "token_factory",
        "auth_headers",
        "act_as",
        "query_counter",
        "assert_max_queries",
        "captured_spans",
        "captured_metrics",
        "captured_logs",
    ):
        globals()[_name] = pytest.fixture(name=_name)(_missing)

else:
    import pytest_asyncio

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def fastapi_database_url(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[str]:
        """The test database's URL.

        ``--fastapi-pro-database-url``, ``$FASTAPI_PRO_TEST_DATABASE_URL`` or the
        ``fastapi_pro_database_url`` ini option; a temporary SQLite file when none is set.
        Under pytest-xdist, each worker gets its own PostgreSQL database, created for the run
        and dropped after it.
        """
        from fastapi_pro.db import async_url  # noqa: PLC0415 - keep plugin import cheap
        from fastapi_pro.testing._database import (  # noqa: PLC0415
            create_worker_database,
            drop_worker_database,
        )

        configured = _database_url(request.config)
        if configured is None:
            path = tmp_path_factory.mktemp("fastapi-pro-db") / "test.db"
            yield f"sqlite+aiosqlite:///{path}"
            return
        url = async_url(configured)
        worker = _worker(request.config)
        if url.get_backend_name() == "sqlite" and worker is not None and url.database:
            if url.database != ":memory:":  # each worker gets a file of its own
                path = Path(url.database)
                url = url.set(database=str(path.with_name(f"{path.stem}_{worker}{path.suffix}")))
            yield url.render_as_string(hide_password=False)
            return
        if url.get_backend_name() != "postgresql" or worker is None:
            yield url.render_as_string(hide_password=False)
            return
        worker_url = await create_worker_database(url, worker)
        try:
            yield worker_url.render_as_string(hide_password=False)
        finally:
            await drop_worker_database(url, worker_url)

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def fastapi_app(
        request: pytest.FixtureRequest, fastapi_database_url: str
    ) -> AsyncIterator[FastAPI]:
        """The app under test, with its lifespan running for the whole session.

        Configured with ``fastapi_pro_app = "package.module:app"`` (an app or an app factory)
        under ``[tool.pytest.ini_options]``; or override this fixture (see `run_app`).
        ``FASTAPI_PRO_DATABASE__URL`` names the test database while the app is imported,
        built and started, so an app that reads `Settings` uses it.
        """
        from fastapi_pro.testing._app import build_app, load_target, run_app  # noqa: PLC0415

        spec = str(request.config.getini(APP_OPTION))
        if not spec:
            pytest.fail(
                "fastapi-pro: no app to test. Set fastapi_pro_app = 'package.module:app' "
                "under [tool.pytest.ini_options], or override the `fastapi_app` fixture.",
                pytrace=False,
            )
        metadata_spec = str(request.config.getini(METADATA_OPTION)).strip()
        with ExitStack() as stack:
            patch = stack.enter_context(pytest.MonkeyPatch.context())
            patch.setenv("FASTAPI_PRO_DATABASE__URL", fastapi_database_url)
            app = await build_app(load_target(spec))
            metadata = None if metadata_spec.lower() == "none" else load_target(metadata_spec)
            running = run_app(app, database_url=fastapi_database_url, metadata=metadata)
            started = await running.__aenter__()
        try:
            yield started
        finally:
            await running.__aexit__(None, None, None)

    @pytest.fixture
    def fastapi_database(fastapi_app: FastAPI, _fastapi_pro_isolation: Any) -> Database:
        """The app's `Database` (its lifespan registered it); fails when the app has none.

        Function-scoped (a look-up, no cost), so that each folder overriding `fastapi_app`
        gets its own app's database.
        """
        from fastapi_pro.testing._database import registered_database  # noqa: PLC0415

        database = registered_database(fastapi_app)
        if database is None:
            pytest.fail(
                "The app registers no Database: use Database.lifespan (or setup()) so "
                "SessionDep and the database fixtures can find it.",
                pytrace=False,
            )
        return database

    @pytest.fixture
    def _fastapi_pro_overrides(fastapi_app: FastAPI) -> Iterator[None]:
        """Put the app's dependency overrides back as they were before the test."""
        saved = dict(fastapi_app.dependency_overrides)
        yield
        fastapi_app.dependency_overrides.clear()
        fastapi_app.dependency_overrides.update(saved)

    @pytest_asyncio.fixture(loop_scope="session")
    async def _fastapi_pro_isolation(
        request: pytest.FixtureRequest, fastapi_app: FastAPI
    ) -> AsyncIterator[AsyncConnection | None]:
        """One connection in an outer transaction, rolled back after the test."""
        from fastapi_pro.testing._database import isolated, registered_database  # noqa: PLC0415

        database = registered_database(fastapi_app)
        if database is None or request.node.get_closest_marker(NO_ROLLBACK) is not None:
            yield None
            return
        async with isolated(database) as connection:
            yield connection

    @pytest_asyncio.fixture(loop_scope="session")
    async def fastapi_client(
        fastapi_app: FastAPI, _fastapi_pro_isolation: Any, _fastapi_pro_overrides: None
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An ``httpx.AsyncClient`` sending requests to the app, at ``http://test``.

        The app's sessions share the test's rolled-back transaction; unhandled errors come
        back as 500 responses, as a real client would see them.
        """
        import httpx  # noqa: PLC0415

        from fastapi_pro.testing._app import served_app  # noqa: PLC0415

        transport = httpx.ASGITransport(app=served_app(fastapi_app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client

    @pytest_asyncio.fixture(loop_scope="session")
    async def fastapi_session(
        fastapi_database: Database, _fastapi_pro_isolation: Any
    ) -> AsyncIterator[AsyncSession]:
        """An `AsyncSession` in the test's transaction, rolled back after the test.

        What it commits, the app's sessions see (they share the connection, through savepoints).
        """
        async with fastapi_database.sessionmaker() as session:
            yield session

    @pytest.fixture
    def token_factory(fastapi_app: FastAPI) -> TokenFactory:
        """Signs access tokens with the app's keys: ``token_factory("alice", roles=["staff"])``."""
        from fastapi_pro.testing._auth import TokenFactory  # noqa: PLC0415

        return TokenFactory(fastapi_app)

    @pytest.fixture
    def auth_headers(token_factory: TokenFactory) -> Any:
        """Builds ``Authorization`` headers: ``auth_headers("alice", scopes=["orders:read"])``."""
        return token_factory.headers

    @pytest.fixture
    def act_as(fastapi_app: FastAPI, _fastapi_pro_overrides: None) -> ActAs:
        """Serve requests as a given user without tokens: ``act_as(user, roles=["staff"])``."""
        from fastapi_pro.testing._auth import ActAs  # noqa: PLC0415

        return ActAs(fastapi_app)

    @pytest.fixture
    def query_counter(fastapi_database: Database) -> Iterator[QueryCounter]:
        """Counts the SQL statements the app's engine runs during the test."""
        from fastapi_pro.testing._capture import QueryCounter  # noqa: PLC0415

        counter = QueryCounter(fastapi_database.engine.sync_engine)
        yield counter
        counter.close()

    @pytest.fixture
    def assert_max_queries(query_counter: QueryCounter) -> Any:
        """A guard against N+1 queries: fails a block that runs more statements than allowed."""
        return query_counter.assert_max

    @pytest.fixture
    def captured_spans(fastapi_app: FastAPI) -> Iterator[CapturedSpans]:
        """Spans the app's tracer provider finishes during the test (tracing must be on)."""
        from fastapi_pro.testing._observability import capture_spans  # noqa: PLC0415

        with capture_spans(fastapi_app) as spans:
            yield spans

    @pytest.fixture
    def captured_metrics(fastapi_app: FastAPI) -> CapturedMetrics:
        """The app's metric samples, as changes since the test started."""
        from fastapi_pro.testing._observability import capture_metrics  # noqa: PLC0415

        return capture_metrics(fastapi_app)

    @pytest.fixture
    def captured_logs() -> Iterator[CapturedLogs]:
        """Log records (access lines included) written during the test."""
        from fastapi_pro.testing._observability import capture_logs  # noqa: PLC0415

        with capture_logs() as logs:
            yield logs
