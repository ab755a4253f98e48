from __future__ import annotations

import errno
import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import fastapi_pro
from fastapi_pro.cli import _scaffold, build_parser, main
from fastapi_pro.cli._demo import APP_FACTORY, DEFAULT_DATABASE_URL, DemoOptions, serve
from fastapi_pro.cli._observability_export import ASSETS
from fastapi_pro.cli._observability_export import FILES as EXPORTED
from fastapi_pro.cli._scaffold import ProjectName, generate, next_steps
from fastapi_pro.cli._scaffold_source import Source, installed_source

REPO = Path(__file__).parents[1]

GENERATED = {
    ".dockerignore",
    ".env.example",
    ".gitignore",
    "Dockerfile",
    "README.md",
    "alembic.ini",
    "migrations/env.py",
    "migrations/script.py.mako",
    "migrations/versions/0001_create_items.py",
    "pyproject.toml",
    "src/my_service/__init__.py",
    "src/my_service/database.py",
    "src/my_service/dev_token.py",
    "src/my_service/main.py",
    "src/my_service/models.py",
    "src/my_service/modules/__init__.py",
    "src/my_service/modules/items/__init__.py",
    "src/my_service/modules/items/models.py",
    "src/my_service/modules/items/repository.py",
    "src/my_service/modules/items/router.py",
    "src/my_service/modules/items/schemas.py",
    "src/my_service/modules/items/service.py",
    "tests/__init__.py",
    "tests/app.py",
    "tests/test_app.py",
    "tests/test_items.py",
    "tests/test_migrations.py",
}


def files_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def pyproject_of(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())


# -- the command line ------------------------------------------------------------------------


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "new" in out
    assert "observability" in out


def test_demo_help_names_its_options_and_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--database-url", "--workers", "fastapi-pro[demo]"):
        assert option in out


def test_the_command_loads_no_web_or_database_library_before_a_subcommand_runs() -> None:
    code = (
        "import sys; from fastapi_pro.cli import build_parser; build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'fastapi', 'pydantic', 'sqlalchemy', 'starlette', 'uvicorn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def modules_loaded_beyond_the_command(statement: str) -> list[str]:
    """The modules that ``statement`` loads, in a new interpreter, other than the standard
    library's and the command's own (``fastapi_pro.cli`` and the package's version).
    """
    code = (
        f"import sys; before = set(sys.modules); {statement}; "
        "own = ('fastapi_pro', 'fastapi_pro.__about__', 'fastapi_pro.cli'); "
        "print(sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] not in sys.stdlib_module_names "
        "and m not in own and not m.startswith('fastapi_pro.cli.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded: list[str] = eval(result.stdout.strip().splitlines()[-1])  # noqa: S307 - a list we print
    return loaded


def test_the_command_loads_only_the_standard_library_before_a_subcommand_runs() -> None:
    loaded = modules_loaded_beyond_the_command(
        "from fastapi_pro.cli import build_parser; build_parser().parse_args(['demo'])"
    )

    assert loaded == []


def test_version_prints_the_program_and_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"fastapi-pro {fastapi_pro.__version__}\n"


def test_new_help_names_its_argument_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["new", "--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "usage: fastapi-pro new [-h] [--directory DIR] [--fastapi-pro-source PATH] NAME\n"
    )
    for text in ("distribution name, e.g. my-service", "(default: ./NAME)", "[tool.uv.sources]"):
        assert text in " ".join(out.split())


def test_observability_help_lists_its_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["observability", "--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastapi-pro observability [-h] ACTION ...\n")
    assert "write the dashboard and the rule files into a directory" in out


def test_the_options_defaults() -> None:
    parser = build_parser()
    demo = parser.parse_args(["demo"])
    new = parser.parse_args(["new", "my-service"])
    export = parser.parse_args(["observability", "export"])

    assert (demo.host, demo.port, demo.database_url, demo.workers) == ("127.0.0.1", 8000, None, 1)
    assert (new.name, new.directory, new.fastapi_pro_source) == (
        ProjectName.parse("my-service"),
        None,
        None,
    )
    assert (export.out, export.force) == (Path("observability"), False)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["demo", "--port", "65536"], "argument --port: '65536' is not a TCP port (0 to 65535)."),
        (["demo", "--port", "-1"], "argument --port: '-1' is not a TCP port (0 to 65535)."),
        (["demo", "--port", "http"], "argument --port: 'http' is not a whole number."),
        (["demo", "--workers", "0"], "argument --workers: '0' is not a whole number of 1 or more."),
        (["demo", "--workers", "2.5"], "argument --workers: '2.5' is not a whole number."),
        (["new"], "the following arguments are required: NAME"),
        (["observability", "export", "--out"], "argument --out: expected one argument"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_option(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = " ".join(arguments[:2] if arguments[0] == "observability" else arguments[:1])

    with pytest.raises(SystemExit) as exit_info:
        main(arguments)

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: fastapi-pro {command} ")
    assert err.endswith(f"\nfastapi-pro {command}: error: {message}\n")


@pytest.mark.parametrize(
    ("arguments", "unknown"),
    [(["demo", "--hots", "::"], "--hots ::"), (["new", "a-svc", "b-svc"], "b-svc")],
)
def test_an_unknown_argument_is_a_usage_error_naming_it(
    arguments: list[str], unknown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"\nfastapi-pro: error: unrecognized arguments: {unknown}\n"
    )


@pytest.mark.parametrize("arguments", [[], ["serve"]])
def test_a_missing_or_unknown_command_is_a_usage_error(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)

    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "usage: fastapi-pro [-h] [--version] COMMAND ..."
    assert err[-1].startswith("fastapi-pro: error: ")
    assert "COMMAND" in err[-1]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad name!", "is not a valid project name"),
        ("_private", "is not a valid project name"),
        ("trailing.", "is not a valid project name"),
        ("3d-shop", "which Python cannot import"),
        ("class", "which Python cannot import"),
        ("json", "would shadow"),
        ("fastapi-pro", "would shadow"),
        ("Tests", "would shadow"),
        # dependencies of fastapi-pro and of the generated service, direct or not
        ("jwt", "would shadow"),
        ("redis", "would shadow"),
        ("loguru", "would shadow"),
        ("asyncpg", "would shadow"),
        ("aiosqlite", "would shadow"),
        ("pwdlib", "would shadow"),
        ("prometheus-client", "would shadow"),
        ("opentelemetry", "would shadow"),
        ("greenlet", "would shadow"),
        ("anyio", "would shadow"),
        ("typing-extensions", "would shadow"),
        ("pytest-asyncio", "would shadow"),
        # device names Windows reserves in every folder
        ("con", "reserved device name"),
        ("NUL", "reserved device name"),
        ("aux", "reserved device name"),
        ("prn", "reserved device name"),
        ("com1", "reserved device name"),
        ("lpt9", "reserved device name"),
    ],
)
def test_an_invalid_name_is_a_usage_error(
    name: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["new", name, "--directory", str(tmp_path / "out")])

    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_invalid_name_exits_2_with_one_message_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_pro.cli", "new", "bad name!"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "fastapi-pro new: error: argument NAME: 'bad name!' is not a valid" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_directory_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    status = main(["new", "my-service", "--directory", str(tmp_path)])

    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("fastapi-pro new: error: ")
    assert "already exists and is not empty; nothing was written" in err
    assert "Traceback" not in err
    assert files_under(tmp_path) == {"notes.txt"}


def test_a_file_in_place_of_the_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    target.write_text("")

    assert main(["new", "my-service", "--directory", str(target)]) == 1
    assert "is a file" in capsys.readouterr().err


def test_a_source_that_is_not_a_fastapi_pro_checkout_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["new", "my-service", "--directory", str(tmp_path / "out"), "--fastapi-pro-source", "/"]
    )

    assert status == 1
    assert "is not a fastapi-pro checkout" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_any_installed_top_level_module_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"some_lib": ["some-lib"], "Other": ["other-dist"]}
    monkeypatch.setattr(_scaffold, "packages_distributions", lambda: installed)
    _scaffold.taken_names.cache_clear()
    try:
        for name in ("some-lib", "other"):
            with pytest.raises(ValueError, match="would shadow"):
                ProjectName.parse(name)
        assert ProjectName.parse("some-lib-service").package == "some_lib_service"
    finally:
        _scaffold.taken_names.cache_clear()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc and /sys")
@pytest.mark.parametrize("directory", ["/proc/newproj", "/sys/newproj"])
def test_an_unwritable_directory_is_one_message_and_no_traceback(directory: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_pro.cli", "new", "my-svc", "--directory", directory],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith(f"fastapi-pro new: error: cannot write {directory}: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def failing_writes(allowed: int) -> Callable[..., int]:
    """A ``Path.write_text`` whose first ``allowed`` writes succeed, then the disk is full."""
    write_text = Path.write_text
    done = 0

    def write(path: Path, text: str, *args: Any, **kwargs: Any) -> int:
        nonlocal done
        if done == allowed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        done += 1
        return write_text(path, text, *args, **kwargs)

    return write


def test_a_failure_part_way_leaves_nothing_behind_and_a_rerun_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "parents" / "made" / "my-service"
    monkeypatch.setattr(Path, "write_text", failing_writes(allowed=5))

    status = main(["new", "my-service", "--directory", str(target)])

    assert status == 1
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the project, a staging folder nor parents
    monkeypatch.undo()
    assert main(["new", "my-service", "--directory", str(target)]) == 0
    assert files_under(target) == GENERATED


def test_a_failure_part_way_leaves_an_empty_directory_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Path, "write_text", failing_writes(allowed=5))

    assert main(["new", "my-service", "--directory", str(tmp_path)]) == 1

    assert list(tmp_path.iterdir()) == []


def test_next_steps_quote_the_directory_for_the_shell() -> None:
    steps = next_steps(ProjectName.parse("gen-svc"), Path("/srv/rev 3/gen svc"))

    assert "  cd '/srv/rev 3/gen svc'\n" in steps


def test_project_names_derive_the_package_and_title() -> None:
    name = ProjectName.parse("My.Cool_Service")

    assert (name.project, name.package, name.title) == (
        "my-cool-service",
        "my_cool_service",
        "My Cool Service",
    )


# -- what `new` writes -----------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    project = tmp_path / "my-service"
    assert main(["new", "my-service", "--directory", str(project)]) == 0
    assert "uv run pytest" in capsys.readouterr().out
    return project


def test_new_writes_the_service_layout(generated: Path) -> None:
    assert files_under(generated) == GENERATED


def test_new_leaves_no_template_marker_behind(generated: Path) -> None:
    for relative in files_under(generated):
        text = (generated / relative).read_text()
        assert "{{" not in text, relative
        assert "__package__" not in relative
        assert not relative.endswith(".tmpl")


def test_new_names_the_project_and_its_package_everywhere(generated: Path) -> None:
    pyproject = pyproject_of(generated)
    main_module = (generated / "src/my_service/main.py").read_text()

    assert pyproject["project"]["name"] == "my-service"
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/my_service"]
    assert pyproject["tool"]["pytest"]["ini_options"]["fastapi_pro_app"] == (
        "tests.app:create_test_app"
    )
    assert "from my_service.main import create_app" in (generated / "tests/app.py").read_text()
    assert 'FastAPI(title="My Service"' in main_module
    assert "from my_service.modules.items.router import router" in main_module
    assert "my_service.main:create_app" in (generated / "Dockerfile").read_text()
    assert "python -m my_service.dev_token" in (generated / "README.md").read_text()


def test_the_generated_python_compiles(generated: Path) -> None:
    for path in generated.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_without_a_source_fastapi_pro_comes_from_an_index(tmp_path: Path) -> None:
    name = ProjectName.parse("my-service")

    generate(name, tmp_path, source=None)

    pyproject = pyproject_of(tmp_path)
    assert "uv" not in pyproject["tool"]
    assert pyproject["project"]["dependencies"][0].startswith("fastapi-pro[")
    assert "It takes fastapi-pro from a package index." in next_steps(name, tmp_path)


def test_new_takes_fastapi_pro_from_the_checkout_it_is_installed_from(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This suite runs on fastapi-pro installed editable from this checkout, as uv does it."""
    source = pyproject_of(generated)["tool"]["uv"]["sources"]["fastapi-pro"]

    assert source == {"path": REPO.resolve().as_posix(), "editable": True}


def test_next_steps_need_only_python_and_pip() -> None:
    steps = next_steps(ProjectName.parse("gen-svc"), Path("gen-svc")).splitlines()
    commands = [line.split("#")[0].strip() for line in steps if line.startswith("  ")]

    assert commands[:3] == ["cd gen-svc", "python3 -m pip install -q uv", "cp .env.example .env"]
    assert all(command.startswith("python3 -m uv run ") for command in commands[3:])


def distribution_recording(tmp_path: Path, direct_url: str | None) -> Distribution:
    """An installed fastapi-pro whose PEP 610 record (``direct_url.json``) says ``direct_url``."""
    info = tmp_path / "fastapi_pro-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fastapi-pro\nVersion: 0.1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(direct_url)
    return Distribution.at(info)


def uv_source_of(source: Source | None) -> dict[str, Any]:
    assert source is not None
    table = tomllib.loads(source.uv_sources())
    entry: dict[str, Any] = table["tool"]["uv"]["sources"]["fastapi-pro"]
    return entry


def test_an_editable_checkout_becomes_an_editable_path(tmp_path: Path) -> None:
    record = json.dumps({"url": REPO.as_uri(), "dir_info": {"editable": True}})
    source = installed_source(distribution_recording(tmp_path, record))

    assert uv_source_of(source) == {"path": REPO.as_posix(), "editable": True}


def test_a_local_wheel_becomes_a_path_to_it(tmp_path: Path) -> None:
    wheel = tmp_path / "wheels and 'such'" / "fastapi_pro-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    record = json.dumps({"url": wheel.as_uri(), "archive_info": {}})

    source = installed_source(distribution_recording(tmp_path, record))

    assert uv_source_of(source) == {"path": wheel.as_posix()}
    assert source is not None
    assert str(wheel) in source.description


def test_a_git_install_becomes_the_repository_at_its_commit(tmp_path: Path) -> None:
    url = "https://github.com/example/fastapi-pro.git"
    record = json.dumps({"url": url, "vcs_info": {"vcs": "git", "commit_id": "0123abc"}})

    source = installed_source(distribution_recording(tmp_path, record))

    assert uv_source_of(source) == {"git": url, "rev": "0123abc"}


@pytest.mark.parametrize(
    "record",
    [
        None,  # installed from an index: no record
        '{"url": "file:///nowhere/fastapi_pro-0.1.0-py3-none-any.whl", "archive_info": {}}',
        '{"url": "file:///nowhere/checkout", "dir_info": {"editable": true}}',
        '{"url": "https://hg.example.com/fastapi-pro", "vcs_info": {"vcs": "hg"}}',
        "not json",
        '["a list"]',
    ],
)
def test_an_index_or_a_lost_or_unusable_origin_means_an_index(
    tmp_path: Path, record: str | None
) -> None:
    assert installed_source(distribution_recording(tmp_path, record)) is None


def env_file(path: Path) -> dict[str, str]:
    """The variables an env file sets (``docker run --env-file`` reads it the same way)."""
    lines = path.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value for name, value in pairs}


def fastapi_pro_extras(project: Path) -> set[str]:
    requirement = pyproject_of(project)["project"]["dependencies"][0]
    match = re.match(r"fastapi-pro\[([^\]]*)\]", requirement)
    assert match is not None, requirement
    return {extra.strip() for extra in match.group(1).split(",")}


def test_the_env_example_leaves_the_environment_to_the_image(generated: Path) -> None:
    """``docker run --env-file`` wins over the image's ENV: production must not be undone."""
    example = (generated / ".env.example").read_text()

    assert "FASTAPI_PRO_ENVIRONMENT" not in env_file(generated / ".env.example")
    assert "\n# FASTAPI_PRO_ENVIRONMENT=" in example  # documented, commented out
    assert "FASTAPI_PRO_ENVIRONMENT=production" in (generated / "Dockerfile").read_text()


def ignores(ignore_file: Path, name: str) -> bool:
    """Whether the last pattern of ``ignore_file`` that matches ``name`` ignores it."""
    ignored = False
    for pattern in ignore_file.read_text().split():
        if fnmatch.fnmatch(name, pattern.removeprefix("!")):
            ignored = not pattern.startswith("!")
    return ignored


def test_containers_are_deployed_on_postgresql(generated: Path) -> None:
    """The image runs as a user that cannot write to /app: no SQLite file in a container."""
    readme = (generated / "README.md").read_text()
    deploy = readme[readme.index("## Deploy") :]
    env_files = set(re.findall(r"docker run .*--env-file (\S+)", deploy))

    assert len(env_files) == 1, env_files
    (deploy_env,) = env_files
    assert deploy_env != ".env"  # the development settings: SQLite in ./app.db
    assert "\nFASTAPI_PRO_DATABASE__URL=postgresql+asyncpg://" in deploy
    assert "alembic upgrade head" in deploy
    assert ignores(generated / ".gitignore", deploy_env)
    assert ignores(generated / ".dockerignore", deploy_env)
    assert not ignores(generated / ".gitignore", ".env.example")


def test_the_otlp_exporter_offered_is_installed(generated: Path) -> None:
    assert (
        "FASTAPI_PRO_OBSERVABILITY__TRACE_EXPORTER=otlp" in (generated / ".env.example").read_text()
    )
    assert {"postgres", "redis", "otlp"} <= fastapi_pro_extras(generated)


def test_a_source_checkout_becomes_an_editable_uv_source(tmp_path: Path) -> None:
    project = tmp_path / "svc"

    status = main(["new", "svc-api", "--directory", str(project), "--fastapi-pro-source", "."])

    assert status == 0
    source = pyproject_of(project)["tool"]["uv"]["sources"]["fastapi-pro"]
    assert source == {"path": str(Path.cwd().resolve()), "editable": True}


def test_an_empty_existing_directory_is_used(tmp_path: Path) -> None:
    assert main(["new", "my-service", "--directory", str(tmp_path)]) == 0
    assert files_under(tmp_path) == GENERATED


# -- demo ------------------------------------------------------------------------------------


@pytest.fixture
def restored_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The demo exports variables for its workers: put the environment back afterwards."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    saved = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("FASTAPI_PRO_")]:
        del os.environ[name]
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


class FakeServer:
    """Stands in for ``uvicorn.run``: records what it was asked to serve, and the environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.environ: dict[str, str] = {}
        self.metrics_dir_existed = False

    def run(self, app: str, **options: Any) -> None:
        self.calls.append((app, options))
        self.environ = dict(os.environ)
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.metrics_dir_existed = metrics_dir is not None and Path(metrics_dir).is_dir()


def tables_of(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}


def rows(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(count)


@pytest.mark.usefixtures("restored_environ")
def test_the_demo_seeds_once_and_serves_the_example_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    monkeypatch.setattr(uvicorn, "run", server.run)
    database = tmp_path / "demo.db"
    options = DemoOptions(port=8321, database_url=f"sqlite:///{database}")

    serve(options)
    first = capsys.readouterr().out
    serve(options)
    second = capsys.readouterr().out

    assert (rows(database, "users"), rows(database, "products")) == (2, 4)
    assert "user alice@example.com" in first
    assert "nothing new" in second
    assert "http://127.0.0.1:8321/docs, press Authorize" in second
    assert "bob@example.com      password bob-password" in second
    app, run_options = server.calls[-1]
    assert (app, run_options["factory"], run_options["workers"]) == (APP_FACTORY, True, 1)
    assert server.environ["FASTAPI_PRO_DATABASE__URL"] == f"sqlite+aiosqlite:///{database}"
    assert len(server.environ["FASTAPI_PRO_AUTH__SECRET_KEY"]) >= 32


@pytest.mark.usefixtures("restored_environ")
def test_several_workers_share_the_token_store_and_the_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer()
    monkeypatch.setattr(uvicorn, "run", server.run)
    database = tmp_path / "demo.db"

    serve(DemoOptions(database_url=f"sqlite+aiosqlite:///{database}", workers=2))

    assert server.calls[-1][1]["workers"] == 2
    assert server.environ["FASTAPI_PRO_AUTH__TOKEN_STORE"] == "database"
    # created before the workers start, so they do not race to create them
    assert "fastapi_pro_refresh_families" in tables_of(database)
    assert server.metrics_dir_existed
    assert not Path(server.environ["PROMETHEUS_MULTIPROC_DIR"]).exists()  # removed after


@pytest.mark.usefixtures("restored_environ")
async def test_the_demos_workers_create_no_tables(tmp_path: Path) -> None:
    """The demo creates them before the workers start; workers creating them again race."""
    from asgi_lifespan import LifespanManager  # noqa: PLC0415 - the testing extra
    from uvicorn.importer import import_from_string  # noqa: PLC0415

    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    os.environ["FASTAPI_PRO_DATABASE__URL"] = f"sqlite+aiosqlite:///{database}"
    os.environ["FASTAPI_PRO_AUTH__SECRET_KEY"] = "k" * 40
    os.environ["FASTAPI_PRO_AUTH__TOKEN_STORE"] = "database"

    app = import_from_string(APP_FACTORY)()  # as each uvicorn worker does
    async with LifespanManager(app):
        pass

    assert tables_of(database) == set()


@pytest.mark.usefixtures("restored_environ")
def test_the_demo_keeps_a_configured_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer()
    monkeypatch.setattr(uvicorn, "run", server.run)
    os.environ["FASTAPI_PRO_AUTH__SECRET_KEY"] = "k" * 40

    serve(DemoOptions(database_url=f"sqlite:///{tmp_path / 'demo.db'}"))

    assert server.environ["FASTAPI_PRO_AUTH__SECRET_KEY"] == "k" * 40


@pytest.mark.usefixtures("restored_environ")
def test_the_demo_seeds_its_own_file_whatever_the_environment_and_env_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer()
    monkeypatch.setattr(uvicorn, "run", server.run)
    os.environ["FASTAPI_PRO_DATABASE__URL"] = f"sqlite:///{tmp_path / 'exported.db'}"
    (tmp_path / ".env").write_text(
        f"FASTAPI_PRO_DATABASE__URL=sqlite:///{tmp_path / 'dotenv.db'}\n"
        "FASTAPI_PRO_AUTH__SECRET_KEY=a-key-of-the-projects-own-env-file-0123456789\n"
    )

    serve(DemoOptions())

    assert sorted(path.name for path in tmp_path.glob("*.db")) == ["fastapi-pro-demo.db"]
    assert rows(tmp_path / "fastapi-pro-demo.db", "products") == 4
    assert server.environ["FASTAPI_PRO_DATABASE__URL"] == DEFAULT_DATABASE_URL
    assert "env-file" not in server.environ["FASTAPI_PRO_AUTH__SECRET_KEY"]


@pytest.mark.usefixtures("restored_environ")
def test_an_unparsable_database_url_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--database-url", "not a url"])

    assert status == 1
    assert "is not a database URL" in capsys.readouterr().err


def test_python_dash_m_examples_orders_is_the_demo_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.orders", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.startswith("usage: fastapi-pro demo")


# -- observability export --------------------------------------------------------------------


def test_export_writes_the_dashboard_and_rules_as_shipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ops" / "grafana"

    status = main(["observability", "export", "--out", str(out)])

    assert status == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(EXPORTED)
    for name in EXPORTED:
        assert (out / name).read_bytes() == (ASSETS / name).read_bytes()
    printed = capsys.readouterr().out
    assert f"Wrote {out / 'fastapi-pro-dashboard.json'}" in printed
    assert "rule_files" in printed


def test_export_loads_no_web_or_database_library(tmp_path: Path) -> None:
    code = (
        "import sys; from fastapi_pro.cli import main; "
        f"main(['observability', 'export', '--out', {str(tmp_path)!r}]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'fastapi', 'pydantic', 'sqlalchemy', 'starlette', 'prometheus_client', 'yaml'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_export_imports_no_module_of_the_observability_block(tmp_path: Path) -> None:
    """The files are read as package data, the same from a wheel as from a checkout."""
    loaded = modules_loaded_beyond_the_command(
        "from fastapi_pro.cli import main; "
        f"main(['observability', 'export', '--out', {str(tmp_path)!r}])"
    )

    assert loaded == []


def test_export_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["observability", "export", "--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--force", "prometheus.yml", "Grafana"):
        assert option in out


def test_export_writes_to_observability_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["observability", "export"]) == 0

    assert sorted(path.name for path in (tmp_path / "observability").iterdir()) == sorted(EXPORTED)


def test_export_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "fastapi-pro-alerting-rules.yml").write_text("# my edited alerts\n")

    result = subprocess.run(
        [sys.executable, "-m", "fastapi_pro.cli", "observability", "export", "--out", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr == (
        f"fastapi-pro observability export: error: {tmp_path / 'fastapi-pro-alerting-rules.yml'}"
        " already exists; pass --force to overwrite the files there.\n"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["fastapi-pro-alerting-rules.yml"]
    assert (tmp_path / "fastapi-pro-alerting-rules.yml").read_text() == "# my edited alerts\n"


def test_export_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "fastapi-pro-dashboard.json").write_text("{}")

    assert main(["observability", "export", "--out", str(tmp_path), "--force"]) == 0

    assert (tmp_path / "fastapi-pro-dashboard.json").read_bytes() == (
        ASSETS / "fastapi-pro-dashboard.json"
    ).read_bytes()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_export_to_an_unwritable_place_is_one_message_and_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_pro.cli", "observability", "export", "--out", "/proc/x"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "fastapi-pro observability export: error: cannot write /proc/x: No such file or directory\n"
    )


def test_observability_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["observability"])

    assert exit_info.value.code == 2
    assert "the following arguments are required: ACTION" in capsys.readouterr().err


# -- the generated project's own suite -------------------------------------------------------


def uv_command() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in ("python3", sys.executable):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed (python3 -m pip install uv); .ci/check-new-project needs it")


@pytest.mark.slow
def test_the_generated_projects_tests_pass(tmp_path: Path) -> None:
    """Its ruff, mypy and migration checks run in .ci/check-new-project."""
    project = tmp_path / "gen-check"
    assert (
        main(["new", "gen-check", "--directory", str(project), "--fastapi-pro-source", str(REPO)])
        == 0
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FASTAPI_PRO_", "VIRTUAL_ENV", "PYTEST_", "UV_PROJECT"))
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # A developer's .env, which the tests must not read: a metrics token, a Redis server that
    # is not running, production.
    (project / ".env").write_text(
        "FASTAPI_PRO_ENVIRONMENT=production\n"
        "FASTAPI_PRO_OBSERVABILITY__METRICS_TOKEN=a-metrics-token-from-the-developers-env\n"
        "FASTAPI_PRO_REDIS__URL=redis://127.0.0.1:9/0\n"
        "FASTAPI_PRO_AUTH__ISSUER=https://issuer.example.com\n"
    )

    result = subprocess.run(
        [*uv_command(), "run", "--quiet", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def a_newcomers_shell() -> dict[str, str]:
    """The environment of a shell outside this project: no settings, no virtualenv of ours."""
    ours = {str(Path(sys.executable).parent), os.environ.get("VIRTUAL_ENV", "") + "/bin"}
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if entry not in ours]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FASTAPI_PRO_", "VIRTUAL_ENV", "PYTEST_", "UV_PROJECT"))
    }
    return {**env, "PATH": os.pathsep.join(path), "UV_PYTHON_DOWNLOADS": "never"}


def run_the_printed_next_steps(fastapi_pro: Path, folder: Path) -> str:
    """``fastapi-pro new gen-steps`` in ``folder``, then its next steps up to the tests, as
    printed, in a shell outside this project; what they printed.
    """
    env = a_newcomers_shell()
    python3, bash = (shutil.which(name, path=env["PATH"]) for name in ("python3", "bash"))
    assert python3 is not None, "the steps start with python3"
    assert bash is not None
    probe = subprocess.run([python3, "-m", "uv", "--version"], env=env, check=False)
    if probe.returncode != 0:  # the first step would install it: not on a developer's machine
        pytest.skip("uv is not installed for python3 (python3 -m pip install uv)")
    created = subprocess.run(
        [str(fastapi_pro), "new", "gen-steps"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    steps = created.stdout.split("Next steps:\n")[1].splitlines()
    until_the_tests = steps[: next(i for i, step in enumerate(steps) if " pytest " in step) + 1]
    result = subprocess.run(
        [bash, "-euc", "\n".join(until_the_tests)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, created.stdout + result.stdout + result.stderr
    return created.stdout + result.stdout


@pytest.mark.slow
def test_the_printed_next_steps_run_as_printed_until_the_tests_pass(tmp_path: Path) -> None:
    fastapi_pro = Path(sys.executable).with_name("fastapi-pro")  # installed from this checkout

    output = run_the_printed_next_steps(fastapi_pro, tmp_path)

    assert f"It takes fastapi-pro from the checkout {REPO.resolve()}" in output
    assert " passed" in output


@pytest.mark.slow
def test_a_project_made_by_fastapi_pro_from_a_wheel_runs_its_next_steps(tmp_path: Path) -> None:
    uv = uv_command()
    env = a_newcomers_shell()
    wheels, venv = tmp_path / "dist", tmp_path / "venv"
    for command in (
        ["build", "--wheel", "--quiet", "--out-dir", str(wheels), str(REPO)],
        ["venv", "--quiet", "--python", sys.executable, str(venv)],
    ):
        subprocess.run([*uv, *command], env=env, check=True, timeout=300)
    (wheel,) = wheels.glob("fastapi_pro-*.whl")
    install = ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)]
    subprocess.run([*uv, *install], env=env, check=True, timeout=300)
    folder = tmp_path / "work"
    folder.mkdir()

    output = run_the_printed_next_steps(venv / "bin" / "fastapi-pro", folder)

    assert f"It takes fastapi-pro from the file {wheel}" in output
    assert " passed" in output
