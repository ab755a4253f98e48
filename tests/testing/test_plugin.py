"""The plugin as a user meets it: sample projects run in a fresh pytest process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

SAMPLE_APP = (Path(__file__).parent / "sample_app.py").read_text()

CONFIGURED = """
[tool.pytest.ini_options]
fastapi_pro_app = "sampleapp:create_app"
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
"""

# Fifty tests that each write rows through the app and see only their own.
ISOLATION_TESTS = """
import pytest
from sqlalchemy import select

from sampleapp import Row


@pytest.mark.parametrize("n", range(50))
async def test_only_my_rows(n, fastapi_client, fastapi_session):
    owner = f"owner-{n}"
    for _ in range(3):
        response = await fastapi_client.post(f"/rows/{owner}")
        assert response.status_code == 201
    fastapi_session.add(Row(owner=owner))
    await fastapi_session.commit()
    owners = (await fastapi_session.scalars(select(Row.owner))).all()
    assert owners == [owner] * 4
"""

SHUFFLE_PLUGIN = """
import os
import random


def pytest_collection_modifyitems(items):
    random.Random(int(os.environ["SHUFFLE_SEED"])).shuffle(items)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("FASTAPI_PRO_TEST_DATABASE_URL", "FASTAPI_PRO_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(sampleapp=SAMPLE_APP)
    pytester.makefile(".toml", pyproject=CONFIGURED)
    pytester.makepyfile(test_isolation=ISOLATION_TESTS, shuffle_order=SHUFFLE_PLUGIN)
    return pytester


def count_rows(url: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM plugin_rows"))
        finally:
            await connection.close()

    return asyncio.run(count())


@pytest.mark.parametrize("seed", ["1", "2"])
def test_fifty_tests_see_only_their_rows_on_sqlite_in_any_order(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed: str
) -> None:
    monkeypatch.setenv("SHUFFLE_SEED", seed)
    result = project.runpytest_subprocess("-p", "shuffle_order")
    result.assert_outcomes(passed=50)


def test_fifty_tests_see_only_their_rows_on_sqlite_with_two_workers(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=50)


@pytest.mark.postgres
def test_fifty_tests_see_only_their_rows_on_postgresql_and_leave_nothing(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_database: str
) -> None:
    monkeypatch.setenv("SHUFFLE_SEED", "3")
    monkeypatch.setenv("FASTAPI_PRO_TEST_DATABASE_URL", postgres_database)
    result = project.runpytest_subprocess("-p", "shuffle_order")
    result.assert_outcomes(passed=50)
    assert count_rows(postgres_database) == 0  # the app's 150 commits were all rolled back


@pytest.mark.postgres
def test_each_worker_gets_its_own_postgresql_database(
    project: pytest.Pytester, postgres_database: str
) -> None:
    project.makepyfile(
        test_worker_db="""
        import os

        def test_database_is_the_workers(fastapi_database):
            assert fastapi_database.url.database.endswith("_" + os.environ["PYTEST_XDIST_WORKER"])
        """
    )
    result = project.runpytest_subprocess(
        "-n", "2", f"--fastapi-pro-database-url={postgres_database}"
    )
    result.assert_outcomes(passed=51)

    async def databases() -> list[str]:
        connection = await asyncpg.connect(postgres_database.replace("+asyncpg", ""))
        try:
            rows = await connection.fetch("SELECT datname FROM pg_database")
        finally:
            await connection.close()
        return [row["datname"] for row in rows]

    name = postgres_database.rsplit("/", 1)[1]
    assert not [db for db in asyncio.run(databases()) if db.startswith(f"{name}_gw")]


def test_overrides_are_removed_after_each_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_overrides="""
        from fastapi_pro.db import get_session

        async def fake():
            yield None

        async def test_a_sets_an_override(fastapi_app, fastapi_client):
            fastapi_app.dependency_overrides[get_session] = fake

        def test_b_sees_none(fastapi_app):
            assert fastapi_app.dependency_overrides == {}

        async def test_c_act_as_then_d(fastapi_client, act_as):
            act_as(object(), subject="x")

        async def test_d_is_anonymous_again(fastapi_client):
            assert (await fastapi_client.get("/me")).status_code == 401
        """
    )
    result = project.runpytest_subprocess("-p", "no:randomly", "test_overrides.py")
    result.assert_outcomes(passed=4)


def test_a_missing_extra_names_the_extra_to_install(project: pytest.Pytester) -> None:
    project.makepyfile(block_httpx="import sys\nsys.modules['httpx'] = None\n")
    project.makepyfile(test_client="def test_client(fastapi_client):\n    pass\n")
    result = project.runpytest_subprocess("-p", "block_httpx", "test_client.py")
    result.assert_outcomes(errors=1)
    assert "need httpx, which is not installed" in result.stdout.str()
    assert "pip install 'fastapi-pro[testing]'" in result.stdout.str()


def test_without_configuration_the_app_fixture_says_how_to_configure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", pyproject='[tool.pytest.ini_options]\nasyncio_mode = "auto"\n')
    pytester.makepyfile(test_app="def test_app(fastapi_app):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fastapi_pro_app = 'package.module:app'*"])


UNCONFIGURED_CONFTEST = """
import pytest
import pytest_asyncio


@pytest.fixture
def app():
    return "the project's own app"


@pytest_asyncio.fixture
async def client(app):
    return f"client of {app}"


@pytest.fixture
def db():
    return "the project's own db"
"""

UNCONFIGURED_TESTS = """
import asyncio

import pytest


@pytest.mark.asyncio
async def test_own_fixtures_win(client, db):
    assert client == "client of the project's own app"
    assert db == "the project's own db"


@pytest.mark.asyncio
async def test_loop_scope_is_untouched(request):
    marker = request.node.get_closest_marker("asyncio")
    assert marker.kwargs == {}


async def test_strict_mode_is_untouched():
    pass  # unmarked in strict mode: pytest-asyncio does not run it, nor does the plugin


def test_environment_is_untouched():
    import os

    assert "FASTAPI_PRO_DATABASE__URL" not in os.environ
"""


def test_an_unconfigured_project_runs_unchanged(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTAPI_PRO_DATABASE__URL", raising=False)
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\nasyncio_mode = "strict"\n'
        'asyncio_default_fixture_loop_scope = "function"\n',
    )
    pytester.makeconftest(UNCONFIGURED_CONFTEST)
    pytester.makepyfile(test_project=UNCONFIGURED_TESTS)
    with_plugin = pytester.runpytest_subprocess()
    without = pytester.runpytest_subprocess("-p", "no:fastapi_pro")
    assert with_plugin.parseoutcomes() == without.parseoutcomes()
    # pytest itself refuses the unmarked async test in strict mode, with or without the plugin.
    with_plugin.assert_outcomes(passed=3, failed=1)


def test_importing_the_plugin_and_its_fixture_modules_stays_cheap() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import importlib, sys\n"
        "from fastapi_pro.testing import plugin\n"
        "for name in plugin.pytest_plugins:  # the fixture modules pytest registers with it\n"
        "    importlib.import_module(name)\n"
        "heavy = {'fastapi', 'sqlalchemy', 'pydantic_settings', 'httpx', 'opentelemetry'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


STRICT = """
[tool.pytest.ini_options]
fastapi_pro_app = "sampleapp:create_app"
asyncio_mode = "strict"
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
"""


def test_strict_mode_tests_run_in_the_apps_loop(project: pytest.Pytester) -> None:
    project.makefile(".toml", pyproject=STRICT)
    project.makepyfile(
        test_strict="""
        import pytest

        @pytest.mark.asyncio
        async def test_marked(fastapi_client):
            assert (await fastapi_client.post("/rows/a")).status_code == 201

        @pytest.mark.asyncio(loop_scope="function")
        async def test_other_loop(fastapi_client):
            pass
        """
    )
    result = project.runpytest_subprocess("test_strict.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*asks for loop_scope='function'*"])


def test_an_app_object_and_an_async_factory_work_as_targets(project: pytest.Pytester) -> None:
    project.makepyfile(
        targets="""
        from sampleapp import create_app

        app = create_app()

        async def make_app():
            return create_app()
        """,
        test_target="async def test_target(fastapi_client):\n"
        "    assert (await fastapi_client.post('/rows/a')).status_code == 201\n",
    )
    for target in ("targets:app", "targets:make_app"):
        result = project.runpytest_subprocess("-o", f"fastapi_pro_app={target}", "test_target.py")
        result.assert_outcomes(passed=1)


def test_the_apps_database_must_be_the_test_database(project: pytest.Pytester) -> None:
    project.makepyfile(
        hardwired="""
        from sampleapp import create_app

        def make():
            return create_app("sqlite+aiosqlite:///./dev.db")
        """,
        test_hardwired="def test_app(fastapi_app):\n    pass\n",
    )
    result = project.runpytest_subprocess(
        "-o", "fastapi_pro_app=hardwired:make", "test_hardwired.py"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*not the test database*"])
    assert not (project.path / "dev.db").exists()  # refused before it was ever opened


def test_an_app_that_writes_at_start_up_never_reaches_a_non_test_database(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        seeding="""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from fastapi_pro.db import Base, Database
        from sampleapp import Row

        database = Database("sqlite+aiosqlite:///./prod.db")  # created at import, hard-wired

        @asynccontextmanager
        async def lifespan(app):
            async with database.lifespan(app):
                await database.create_all(Base.metadata)
                async with database.session() as session:
                    session.add(Row(owner="seeded"))
                yield

        app = FastAPI(lifespan=lifespan)
        """,
        test_seeding="def test_app(fastapi_app):\n    pass\n",
    )
    result = project.runpytest_subprocess("-o", "fastapi_pro_app=seeding:app", "test_seeding.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*not the test database*refuses to touch it*"])
    assert not (project.path / "prod.db").exists()


def test_a_no_rollback_test_commits_for_real(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_commits="""
        import pytest
        from sqlalchemy import delete, func, select
        from sampleapp import Row

        @pytest.mark.fastapi_pro_no_rollback
        async def test_a_commits(fastapi_client):
            assert (await fastapi_client.post("/rows/kept")).status_code == 201

        @pytest.mark.fastapi_pro_no_rollback
        async def test_b_sees_it_and_cleans_up(fastapi_database):
            async with fastapi_database.session() as session:
                assert await session.scalar(select(func.count()).select_from(Row)) == 1
                await session.execute(delete(Row))
        """
    )
    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--strict-markers", "test_commits.py"
    )
    result.assert_outcomes(passed=2)


TWO_APPS_CONFTEST = """
import pytest_asyncio
from fastapi_pro.db import Base
from fastapi_pro.testing import run_app
from sampleapp import create_app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_app(tmp_path_factory):
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('{name}') / 'app.db'}"
    async with run_app(create_app(url), database_url=url, metadata=Base.metadata) as app:
        yield app
"""


def test_each_folders_app_gets_its_own_database_fixture(project: pytest.Pytester) -> None:
    for name in ("one", "two"):
        folder = project.mkpydir(name)
        (folder / "conftest.py").write_text(TWO_APPS_CONFTEST.replace("{name}", name))
        (folder / f"test_{name}.py").write_text(
            "from fastapi_pro.db import Database\n\n"
            "def test_database_is_this_apps(fastapi_app, fastapi_database):\n"
            "    assert fastapi_database is Database.of(fastapi_app)\n"
            f"    assert '{name}' in str(fastapi_database.url)\n"
        )
    project.runpytest_subprocess("one", "two").assert_outcomes(passed=2)


def test_every_test_that_uses_the_app_is_rolled_back(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_escape="""
        from sqlalchemy import func, select
        from fastapi_pro.db import Database
        from sampleapp import Row

        async def count(database):
            async with database.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(Row))

        async def test_a_writes_through_the_database(fastapi_database):
            async with fastapi_database.session() as session:
                session.add(Row(owner="a"))

        async def test_b_writes_through_the_app_alone(fastapi_app):
            async with Database.of(fastapi_app).session() as session:
                session.add(Row(owner="b"))

        async def test_c_sees_nothing(fastapi_database):
            assert await count(fastapi_database) == 0
        """
    )
    project.runpytest_subprocess("-p", "no:randomly", "test_escape.py").assert_outcomes(passed=3)


def test_a_fixture_that_uses_the_app_from_another_loop_is_refused_with_the_fix(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_loops="""
        import pytest_asyncio
        from sampleapp import Row

        @pytest_asyncio.fixture
        async def row_in_function_loop(fastapi_session):
            fastapi_session.add(Row(owner="f"))
            await fastapi_session.commit()

        @pytest_asyncio.fixture(loop_scope="session")
        async def row_in_session_loop(fastapi_session):
            fastapi_session.add(Row(owner="s"))
            await fastapi_session.commit()

        async def test_function_loop(row_in_function_loop):
            pass

        async def test_session_loop(row_in_session_loop):
            pass
        """
    )
    result = project.runpytest_subprocess("test_loops.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*Fixture 'row_in_function_loop' uses the app (through 'fastapi_session')*"]
    )


def test_a_configured_sqlite_file_gets_one_copy_per_worker(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FASTAPI_PRO_TEST_DATABASE_URL", f"sqlite+aiosqlite:///{project.path / 'shared.db'}"
    )
    project.runpytest_subprocess("-n", "2").assert_outcomes(passed=50)
    assert {p.name for p in project.path.glob("shared_gw*.db")} == {
        "shared_gw0.db",
        "shared_gw1.db",
    }


def test_session_scoped_fixtures_are_not_rolled_back_with_the_first_test(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(
        """
        import pytest_asyncio
        from fastapi_pro.db import Database
        from sampleapp import Row

        @pytest_asyncio.fixture(scope="session", loop_scope="session")
        async def reference_rows(fastapi_app):
            async with Database.of(fastapi_app).session() as session:
                session.add_all([Row(owner="ref-1"), Row(owner="ref-2")])
        """
    )
    project.makepyfile(
        test_seed="""
        async def test_1_app_only(fastapi_app, reference_rows):
            pass

        async def test_2_reads_reference(fastapi_client, reference_rows):
            assert (await fastapi_client.get("/rows")).json() == ["ref-1", "ref-2"]
        """
    )
    project.runpytest_subprocess("-p", "no:randomly", "test_seed.py").assert_outcomes(passed=2)


def test_a_projects_own_fastapi_app_fixture_leaves_the_plugin_dormant(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\n',
    )
    pytester.makeconftest(
        """
        import httpx
        import pytest
        import pytest_asyncio
        from fastapi import FastAPI

        @pytest.fixture
        def fastapi_app():
            app = FastAPI()

            @app.get("/")
            async def root():
                return {"ok": True}

            return app

        @pytest_asyncio.fixture
        async def client(fastapi_app):
            transport = httpx.ASGITransport(app=fastapi_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
        """
    )
    pytester.makepyfile(
        test_own="""
        async def test_root(client):
            assert (await client.get("/")).json() == {"ok": True}

        def test_plain(fastapi_app):
            assert fastapi_app.title == "FastAPI"
        """
    )
    with_plugin = pytester.runpytest_subprocess()
    without = pytester.runpytest_subprocess("-p", "no:fastapi_pro")
    assert with_plugin.parseoutcomes() == without.parseoutcomes() == {"passed": 2}


def test_the_loop_check_follows_each_tests_own_fixtures(project: pytest.Pytester) -> None:
    one = project.mkpydir("one")
    (one / "conftest.py").write_text(
        "import pytest_asyncio\n\n"
        "@pytest_asyncio.fixture\n"
        "async def helper(fastapi_session):\n"
        "    return fastapi_session\n"
    )
    (one / "test_one.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('n', range(3))\n"
        "async def test_uses(helper, n):\n"
        "    pass\n"
    )
    two = project.mkpydir("two")
    (two / "conftest.py").write_text(
        "import pytest, pytest_asyncio\n\n"
        "@pytest.fixture\n"
        "def helper():\n"
        "    return 'unrelated'\n\n"
        "@pytest_asyncio.fixture\n"
        "async def upload(helper):\n"
        "    return helper\n"
    )
    (two / "test_two.py").write_text("async def test_upload(upload):\n    assert upload\n")
    result = project.runpytest_subprocess("one", "two")
    result.assert_outcomes(passed=1, errors=3)  # every use refused with the message, not one
    result.stdout.fnmatch_lines(
        ["ERROR one/test_one.py::test_uses*Fixture 'helper' uses the app*"] * 3
    )


def test_rows_of_the_projects_function_fixtures_vanish_whatever_fixtures_the_test_uses(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(
        """
        import pytest_asyncio
        from fastapi_pro.db import Database
        from sampleapp import Row

        @pytest_asyncio.fixture(loop_scope="session")
        async def seeded(fastapi_app):
            async with Database.of(fastapi_app).session() as session:
                session.add(Row(owner="seed"))
        """
    )
    project.makepyfile(
        test_seeded="""
        import pytest
        from sqlalchemy import func, select
        from sampleapp import Row

        @pytest.mark.parametrize("n", range(3))
        async def test_client_after(n, seeded, fastapi_client):
            assert (await fastapi_client.get("/rows")).json() == ["seed"]

        @pytest.mark.parametrize("n", range(3))
        async def test_session_after(n, seeded, fastapi_session):
            assert await fastapi_session.scalar(select(func.count()).select_from(Row)) == 1
        """
    )
    project.runpytest_subprocess("test_seeded.py").assert_outcomes(passed=6)


def test_without_pytest_asyncio_running_the_plugin_changes_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=1)


def test_the_loop_check_follows_an_override_down_to_the_definition_it_requests(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(
        """
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def base_rows(fastapi_client):
            return fastapi_client
        """
    )
    sub = project.mkpydir("sub")
    (sub / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef base_rows(base_rows):\n    return base_rows\n"
    )
    (sub / "test_sub.py").write_text("def test_rows(base_rows):\n    pass\n")
    result = project.runpytest_subprocess("sub")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Fixture 'base_rows' uses the app (through 'fastapi_client')*"])
