"""The examples the docs include run as written."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from fastapi import FastAPI

from tests.conftest import ClientFactory

DOCS = Path(__file__).parent.parent / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_included_example_exists() -> None:
    included = set()
    for page in DOCS.rglob("*.md"):
        included.update(re.findall(r'--8<-- "docs/examples/(\w+\.py)"', page.read_text()))
    assert included
    assert included <= {p.name for p in (DOCS / "examples").glob("*.py")}


async def test_errors_example_serves_typed_problems(client_for: ClientFactory) -> None:
    app: FastAPI = load("errors_app").app
    async with client_for(app) as client:
        found = await client.get("/orders/1")
        missing = await client.get("/orders/2")
        paid = await client.post("/orders/1/pay")
        invalid = await client.get("/orders/one")

    assert found.json() == {"id": 1, "status": "paid"}
    assert missing.status_code == 404
    assert missing.json()["code"] == "order_not_found"
    assert paid.status_code == 409
    assert paid.json()["order_id"] == 1
    assert invalid.json()["errors"][0]["pointer"] == "#/path/order_id"


async def test_settings_example_builds_an_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, client_for: ClientFactory
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTAPI_PRO_OBSERVABILITY__REQUEST_ID_HEADER", "X-Correlation-ID")
    monkeypatch.setenv("FASTAPI_PRO_ERRORS__TYPE_BASE_URI", "https://errors.example.com/")
    app: FastAPI = load("settings_app").app
    async with client_for(app) as client:
        response = await client.get("/missing")

    assert "x-correlation-id" in response.headers
    assert response.json()["type"] == "https://errors.example.com/not_found"
