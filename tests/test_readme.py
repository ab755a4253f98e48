"""The README's code runs as shown and answers what its comments say."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from fastapi_pro.auth import Key, KeyRing, Tokens
from tests.doc_pages import ROOT, Block, assert_shown, code_blocks, json_body, serving

README = ROOT / "README.md"
BLOCKS = code_blocks(README)
ERRORS_APP, SERVICE, SERVICE_TESTS = (block for block in BLOCKS if block.lang == "python")
SECRET = "a-signing-key-of-more-than-thirty-two-bytes"


def documented(block: Block, request: str) -> tuple[int, str]:
    """The status and body that a ``# <request>: <status> <body>`` comment of ``block`` shows.

    The body may go on over the following comment lines indented by two or more spaces.
    """
    lines = [line.strip() for line in block.text.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith(f"# {request}"):
            found = re.search(r": (\d{3}) (.*)$", line)
            assert found, f"no status and body after {request!r}"
            body = found.group(2)
            for more in lines[index + 1 :]:
                if not more.startswith("#   "):
                    break
                body += more.removeprefix("#").strip()
            return int(found.group(1)), body
    raise AssertionError(f"the README shows no result for {request!r}")


def load(block: Block, path: Path) -> ModuleType:
    path.write_text(block.text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_errors_example_answers_the_problem_it_shows(tmp_path: Path) -> None:
    app = load(ERRORS_APP, tmp_path / "readme_errors.py").app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        missing = await client.get("/orders/42")
        invalid = await client.get("/orders/forty-two")

    status, body = documented(ERRORS_APP, "GET /orders/42")
    assert missing.status_code == status
    assert missing.headers["content-type"] == "application/problem+json"
    assert_shown(body, json_body(missing))
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert invalid.json()["errors"][0]["pointer"] == "#/path/order_id"
    assert "forty-two" not in invalid.text


def service_environment() -> dict[str, str]:
    """The environment of a reader's shell: no fastapi-pro settings but the signing key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_PRO_")}
    return {**env, "FASTAPI_PRO_AUTH__SECRET_KEY": SECRET}


def serve_command() -> list[str]:
    """The README's ``uvicorn ...`` command, run by this interpreter."""
    found = re.search(r"Serve it with `(uvicorn [^`]+)`", README.read_text())
    assert found, "the README says how to serve main.py"
    return [sys.executable, "-m", *shlex.split(found.group(1))]


@pytest.fixture
def service(tmp_path: Path) -> str:
    """The README's ``main.py``, written to an empty folder: the file name its text gives."""
    assert SERVICE.file_name == "main.py"
    (tmp_path / SERVICE.file_name).write_text(SERVICE.text)
    return str(tmp_path)


def bearer(subject: str, *scopes: str) -> dict[str, str]:
    token = Tokens(KeyRing(Key.hmac(SECRET))).issue(subject, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


def test_the_service_saves_orders_and_pages_them_as_shown(service: str, tmp_path: Path) -> None:
    with serving(
        serve_command(), cwd=Path(service), env=service_environment(), log=tmp_path / "log"
    ) as base:
        order = {"item": "mug"}
        created = httpx.post(f"{base}/orders", json=order, headers=bearer("alice", "orders:write"))
        anonymous = httpx.post(f"{base}/orders", json=order)
        unscoped = httpx.post(f"{base}/orders", json=order, headers=bearer("alice"))
        page = httpx.get(f"{base}/orders", params={"limit": 10})
        metrics = httpx.get(f"{base}/metrics")

    status, body = documented(SERVICE, 'POST /orders {"item":"mug"}')
    assert (created.status_code, json_body(created)) == (status, body)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert (unscoped.status_code, unscoped.json()["code"]) == (403, "insufficient_scope")
    status, body = documented(SERVICE, "GET /orders?limit=10")
    assert page.status_code == status
    assert_shown(body, json_body(page))
    assert 'http_route="/orders"' in metrics.text  # labelled by route template
    assert (Path(service) / "app.db").exists()


def test_the_test_shown_passes_against_the_service(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTAPI_PRO_TEST_DATABASE_URL", raising=False)
    (toml,) = (block for block in BLOCKS if block.lang == "toml")
    for block in (SERVICE, toml, SERVICE_TESTS):
        assert block.file_name is not None
        (pytester.path / block.file_name).write_text(block.text)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
