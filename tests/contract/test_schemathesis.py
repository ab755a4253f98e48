"""The OpenAPI document is the contract: schemathesis finds no response it does not describe.

Each test serves an app under a real uvicorn on a free loopback port and runs schemathesis
against its ``/openapi.json`` with every check, the coverage, fuzzing and stateful phases, and a
time budget: the example service as a customer and as staff, and the documentation's apps that
use sorting and the password-flow router. Any failure (an undocumented status, a body that
breaks its schema, a wrong ``Allow`` header, a 5xx, data the schema allows but the API refuses)
fails the test with schemathesis's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import Server, bearer_token, serve

pytestmark = pytest.mark.contract

ROOT = Path(__file__).parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
BUDGET = int(os.environ.get("FASTAPI_PRO_CONTRACT_SECONDS", "45"))
"""Seconds of fuzzing per run; CI's default keeps the four runs within about four minutes."""


def run_schemathesis(server: Server, *, token: str | None = None, seconds: int = BUDGET) -> None:
    """Run schemathesis against ``server``; fail with its report when it finds anything."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--checks=all",
        "--phases=coverage,fuzzing,stateful",
        f"--max-time={seconds}",
        # One worker: hypothesis calls ast.parse while generating, and on this machine's
        # CPython 3.11.7 two threads parsing at once failed with "AST constructor recursion
        # depth mismatch" (a SystemError schemathesis reports as a failed run).
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
    ]
    if token is not None:
        command.append(f"--header=Authorization: Bearer {token}")
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 240, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12_000:]
    assert " passed" in report, report[-4_000:]


ACCOUNTS = {
    "customer": ("alice@example.com", "alice-password"),
    "staff": ("bob@example.com", "bob-password"),
}


@pytest.fixture(scope="module")
def orders_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, dict[str, str]]]:
    """The example service on a seeded SQLite database of its own, and a token per account.

    Both accounts log in before any run: a run's fuzzing spends the token endpoint's login
    limits (per client address), so a login after it would be refused with a 429.
    """
    with _orders(tmp_path_factory.mktemp("orders-contract")) as server:
        tokens = {role: bearer_token(server, *account) for role, account in ACCOUNTS.items()}
        yield server, tokens


@contextmanager
def _orders(folder: Path, **settings: str) -> Iterator[Server]:
    """The example service, seeded, on a SQLite file in ``folder``, with extra settings."""
    environ = {
        "FASTAPI_PRO_DATABASE__URL": f"sqlite+aiosqlite:///{folder / 'orders.db'}",
        "FASTAPI_PRO_AUTH__SECRET_KEY": "contract-tests-" + "k" * 32,
        **settings,
    }
    seed = [sys.executable, "-m", "examples.orders.seed"]
    subprocess.run(seed, cwd=folder, env=_environ(environ), check=True, capture_output=True)
    app = ["--factory", "examples.orders.main:create_app"]
    with serve(app, cwd=folder, env=_environ(environ)) as server:
        yield server


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_the_example_service_sends_only_what_its_openapi_document_states(
    orders_service: tuple[Server, dict[str, str]], role: str
) -> None:
    server, tokens = orders_service
    run_schemathesis(server, token=tokens[role])


@pytest.mark.parametrize("shape", ["field_errors", "fastapi_detail"])
def test_the_example_service_in_another_error_shape_sends_what_its_document_states(
    tmp_path: Path, shape: str
) -> None:
    """With ``errors.shape`` set, the document describes that shape and the API sends it."""
    with _orders(tmp_path, FASTAPI_PRO_ERRORS__SHAPE=shape) as server:
        token = bearer_token(server, "alice@example.com", "alice-password")
        run_schemathesis(server, token=token, seconds=BUDGET // 2)


def test_the_docs_auth_app_sends_only_what_its_openapi_document_states(tmp_path: Path) -> None:
    app = ["--app-dir", str(ROOT / "docs" / "examples"), "auth_app:app"]
    with serve(app, cwd=tmp_path, env=_environ({})) as server:
        run_schemathesis(server, token=bearer_token(server, "alice", "wonderland"))


def test_the_docs_data_layer_app_sends_only_what_its_openapi_document_states(
    tmp_path: Path,
) -> None:
    examples = str(ROOT / "docs" / "examples")
    # The page says: create the tables once, then serve it.
    create = "import asyncio, db_app; asyncio.run(db_app.db.create_all(db_app.Base.metadata))"
    environ = _environ({"PYTHONPATH": examples})
    subprocess.run([sys.executable, "-c", create], cwd=tmp_path, env=environ, check=True)
    with serve(["--app-dir", examples, "db_app:app"], cwd=tmp_path, env=environ) as server:
        run_schemathesis(server)


def _environ(extra: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_PRO_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    return environ | extra
