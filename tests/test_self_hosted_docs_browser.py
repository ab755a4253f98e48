"""The docs pages as headless Chromium renders them, with every host but the loopback unreachable.

Each app runs under a real uvicorn in a process of its own. Chromium resolves no name but
127.0.0.1, so a page that needs a CDN stays blank: `test_the_cdn_page_stays_blank` shows the
network really is closed. Without Chromium these tests are skipped, unless
``FASTAPI_PRO_TEST_BROWSER`` names the browser (as CI does): then they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import run_chromium
from tests.self_hosted_docs_apps import ROOT_PATH
from tests.servers import stop

PROJECT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@contextmanager
def served(factory: str, **environment: str) -> Iterator[str]:
    """Serve ``tests.self_hosted_docs_apps:<factory>`` under uvicorn; yield its base URL."""
    env = {**os.environ, "FASTAPI_PRO_DATABASE__URL": "sqlite+aiosqlite:///:memory:"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port", "0"]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [*command, f"tests.self_hosted_docs_apps:{factory}"],
            cwd=PROJECT,
            env={**env, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield f"http://127.0.0.1:{_port(server, log)}"
        finally:
            stop(server, timeout=10)


def _port(server: subprocess.Popen[bytes], log: IO[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        log.seek(0)
        found = _LISTENING.search(log.read())
        if found:
            return found.group(1)
        time.sleep(0.1)
    log.seek(0)
    pytest.fail(f"uvicorn did not start within {START_TIMEOUT:.0f} s:\n{log.read()}")


def render(chromium: str, url: str, *extra: str) -> str:
    """Load ``url`` in headless Chromium, no host but 127.0.0.1 resolvable; return the DOM."""
    return run_chromium(
        chromium,
        "--disable-quic",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        *extra,
        "--dump-dom",
        url,
    )


@pytest.fixture(scope="module")
def self_hosted() -> Iterator[str]:
    """`setup()` with ``FASTAPI_PRO_DOCS__SELF_HOSTED=true`` and every other default."""
    with served("with_setup", FASTAPI_PRO_DOCS__SELF_HOSTED="true") as url:
        yield url


def operations(dom: str) -> set[str]:
    """The paths of the operations Swagger UI rendered."""
    return set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))


def test_setup_swagger_ui_renders_the_operations(chromium: str, self_hosted: str) -> None:
    dom = render(chromium, f"{self_hosted}/docs")

    assert {"/widgets", "/widgets/{widget_id}/polish"} <= operations(dom)
    assert 'class="opblock opblock-post' in dom


def test_setup_redoc_renders_the_operations(chromium: str, self_hosted: str) -> None:
    dom = render(chromium, f"{self_hosted}/redoc")

    assert "List the widgets" in dom  # the summaries come only from the OpenAPI document
    assert "Polish a widget" in dom


def test_the_cdn_page_stays_blank(chromium: str) -> None:
    with served("with_setup", FASTAPI_PRO_DOCS__SELF_HOSTED="false") as url:
        dom = render(chromium, f"{url}/docs")

    assert 'id="swagger-ui"' in dom  # the page itself arrived...
    assert "cdn.jsdelivr.net" in dom
    assert operations(dom) == set()  # ...and its script, from the CDN, did not
    assert "opblock" not in dom


def test_a_plain_app_behind_a_path_prefix_renders(chromium: str) -> None:
    with served("behind_prefix") as url:
        dom = render(chromium, f"{url}{ROOT_PATH}/docs")

    assert f'src="{ROOT_PATH}/docs/assets/swagger-ui-bundle.js"' in dom
    assert {"/widgets", "/widgets/{widget_id}/polish"} <= operations(dom)
