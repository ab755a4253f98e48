"""The guides work when typed in order in an empty folder, against a fresh install.

Each page is read as a reader reads it: its console commands run in order in an empty folder
with a new virtual environment first on ``PATH`` (``pip install`` gets this checkout's wheel
where the page names ``fastapi-pro``), every file it names is written from its own code block,
its ``uvicorn`` command serves on a free loopback port, and its ``curl`` requests go over HTTP
and must answer what the page shows (``...`` stands for values that differ on every run).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.doc_pages import ROOT, assert_shown, code_blocks, pattern, serving

pytestmark = pytest.mark.slow

DOCS = ROOT / "docs"
COMMAND_TIMEOUT = 600  # seconds; pip may have to download the dependencies once
PACKAGE = re.compile(r"(?<![\w/.-])fastapi-pro(?=[\[\"'\s]|$)")
VARIABLE = re.compile(r"\$(\w+)")
SERVERS = ("uvicorn ", "fastapi-pro demo")  # serve until the page ends; --host/--port added


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a wheel, built once, standing in for the index's ``fastapi-pro``."""
    build = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "venv", str(build / "venv")], cwd=build)
    pip = str(build / "venv" / "bin" / "pip")
    run([pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(build), str(ROOT)], cwd=build)
    (built,) = build.glob("fastapi_pro-*.whl")
    return built


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def commands(console: str) -> Iterator[tuple[str, str]]:
    """The commands of a console block and the output the page shows for each.

    With ``$`` prompts, the lines after a command are its output; without, every line is a
    command. A line ending in a backslash goes on on the next line.
    """
    prompted = any(line.startswith("$ ") for line in console.splitlines())
    command: str | None = None
    output: list[str] = []
    for line in console.splitlines():
        if command is not None and command.endswith("\\"):
            command = command[:-1] + line.strip()
        elif not prompted or line.startswith("$ "):
            if command is not None:
                yield command, "\n".join(output)
            command, output = line.removeprefix("$ "), []
        else:
            output.append(line)
    if command is not None:
        yield command, "\n".join(output)


class Reader:
    """Types one page's commands in an empty folder, with a fresh environment on ``PATH``."""

    def __init__(self, home: Path, wheel: Path, skip: tuple[str, ...]) -> None:
        self.cwd, self.wheel, self.skip = home / "work", wheel, skip
        self.cwd.mkdir()
        self.venv = home / "venv"
        run([sys.executable, "-m", "venv", str(self.venv)], cwd=home)
        shell = {k: v for k, v in os.environ.items() if not k.startswith(("FASTAPI_PRO_", "UV"))}
        shell.pop("PYTHONPATH", None)
        path = f"{self.venv / 'bin'}{os.pathsep}{shell['PATH']}"
        self.env = {**shell, "PATH": path, "VIRTUAL_ENV": str(self.venv)}
        self.variables: dict[str, str] = {}
        self.last: httpx.Response | None = None
        self.base: str | None = None
        self.servers = ExitStack()
        self.log = home / "server.log"
        self.checked = 0  # outputs compared with what the page shows

    def read(self, page: Path) -> int:
        """Write the page's files and run its commands in order; return the outputs checked."""
        with self.servers:
            for block in code_blocks(page):
                if block.lang in {"python", "toml"} and block.file_name:
                    target = self.cwd / block.file_name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(block.text + "\n")
                elif block.lang == "console":
                    for command, output in commands(block.text):
                        self.type(command, output)
        return self.checked

    def type(self, command: str, output: str) -> None:
        if command.startswith(self.skip):
            return
        if command.startswith("curl "):
            self.curl(command, output)
        elif remembered := re.fullmatch(r"(\w+)=(\w+)\.\.\.", command):
            self.remember(remembered.group(1), remembered.group(2))
        elif command.startswith(SERVERS):
            program, *arguments = shlex.split(command)
            command_line = [str(self.venv / "bin" / program), *arguments]
            server = serving(command_line, cwd=self.cwd, env=self.env, log=self.log)
            self.base = self.servers.enter_context(server)
        else:
            self.shell(command, output)

    def shell(self, command: str, output: str) -> None:
        """Run ``command`` in bash where the reader stands; follow a ``cd``; check its output."""
        if command.startswith("pip install"):
            command = PACKAGE.sub(str(self.wheel), command)
        script = f"set -e\n{command}\necho; pwd"
        printed = run(["bash", "-c", script], cwd=self.cwd, env=self.env)
        *lines, self.cwd = printed.rstrip("\n").split("\n")
        self.cwd = Path(self.cwd)
        for shown in output.splitlines():
            if shown.strip() and not shown.endswith("[100%]"):
                expected = pattern(re.sub(r"\d+\.\d+s$", "...", shown))
                assert any(expected.fullmatch(line) for line in lines), (command, shown, lines)
                self.checked += 1

    def remember(self, name: str, prefix: str) -> None:
        """``TOKEN=eyJhbGciOi...``: the value the reader copies from the last response."""
        assert self.last is not None
        values = [v for v in self.last.json().values() if isinstance(v, str)]
        self.variables[name] = next(v for v in values if v.startswith(prefix))

    def curl(self, command: str, output: str) -> None:
        """Send the request ``command`` describes, and compare the answer with ``output``."""
        assert self.base is not None, f"{command!r} before any server runs"
        expanded = VARIABLE.sub(lambda m: self.variables[m.group(1)], command)
        include, method, url, headers, data = parse_curl(shlex.split(expanded)[1:])
        url = url.replace("localhost:8000", self.base.removeprefix("http://"), 1)
        self.last = send(method, f"http://{url}", headers, data)
        check_response(self.last, output, include=include)
        self.checked += 1


def parse_curl(args: list[str]) -> tuple[bool, str, str, dict[str, str], str | None]:
    """The ``-i``, ``-X``, ``-H`` and ``-d`` options of a curl command line, and its URL."""
    include, method, url, headers, data = False, None, "", {}, []
    options = iter(args)
    for arg in options:
        if arg == "-i":
            include = True
        elif arg == "-X":
            method = next(options)
        elif arg == "-H":
            name, _, value = next(options).partition(":")
            headers[name.strip().lower()] = value.strip()
        elif arg == "-d":
            data.append(next(options))
        else:
            url = arg
    if data:  # as curl sends -d: joined with &, a form unless a content type is given
        headers.setdefault("content-type", "application/x-www-form-urlencoded")
    return include, method or ("POST" if data else "GET"), url, headers, "&".join(data) or None


def send(method: str, url: str, headers: dict[str, str], data: str | None) -> httpx.Response:
    """Send one request; wait a little for a server that is restarting (``--reload``)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.request(method, url, headers=headers, content=data, timeout=30)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def check_response(response: httpx.Response, output: str, *, include: bool) -> None:
    """``output`` as curl prints it: with ``-i``, the status line and headers come first."""
    body = output
    if include:
        head, _, body = output.partition("\n\n")
        status, *headers = head.splitlines()
        assert status == f"HTTP/1.1 {response.status_code} {response.reason_phrase}"
        for header in headers:
            name, _, value = header.partition(": ")
            assert pattern(value).fullmatch(response.headers[name]), (header, response.headers)
    assert_shown(body, response.text)


@pytest.mark.parametrize(
    ("page", "skip", "outputs"),
    [
        pytest.param("getting-started.md", (), 1, id="getting-started"),
        pytest.param("testing.md", (), 1, id="testing"),
        # The demo serves from the installed wheel. The steps after `fastapi-pro new` are run
        # as printed by tests/test_cli.py (from a checkout and from a wheel) and by
        # .ci/check-new-project; Docker is not run here. `observability export` runs from the
        # wheel and prints the five lines the page shows.
        pytest.param(
            "cli.md",
            ("fastapi-pro new", "cd my-service", "cp .env.example", "python3 -m ", "docker"),
            6,
            id="cli",
        ),
        # `uv add fastapi-pro` resolves from the package index, not this checkout; the
        # PostgreSQL run needs the server and pytest-xdist, which tests/test_docs_projects.py
        # covers with the same project.
        pytest.param("tutorial.md", ("uv ", "FASTAPI_PRO_TEST_DATABASE_URL="), 10, id="tutorial"),
    ],
)
def test_the_page_works_as_typed(
    tmp_path: Path, wheel: Path, page: str, skip: tuple[str, ...], outputs: int
) -> None:
    assert Reader(tmp_path, wheel, skip).read(DOCS / page) == outputs
