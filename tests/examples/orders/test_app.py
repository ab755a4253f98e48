from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import User
from examples.orders.seed import DEMO_USERS, seed
from fastapi_pro.auth import PasswordHasher
from fastapi_pro.db import Database
from tests.examples.orders.helpers import FAST_ARGON2
from tests.servers import free_port

REPO = Path(__file__).parents[3]


def test_building_the_app_creates_no_file_and_connects_nowhere(tmp_path: Path) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"
    script = (
        "import examples.orders.main as main; "
        "from tests.examples.orders.helpers import settings_for; "
        f"main.create_app(settings_for({unreachable!r})); "
        "main.create_app()"  # the default: SQLite in ./app.db
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("FASTAPI_PRO_DATABASE__URL", None)

    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True)

    assert list(tmp_path.iterdir()) == []


def test_the_complete_metadata_holds_every_features_tables_imported_or_not() -> None:
    script = (
        "import sys; from examples.orders.database import complete_metadata; "
        "assert not any(m.endswith('.models') for m in sys.modules if m.startswith('examples')); "
        "print(' '.join(sorted(complete_metadata().tables)))"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["order_lines", "orders", "products", "users"]


async def test_the_root_sends_a_browser_to_the_docs_and_stays_out_of_the_schema(
    fastapi_client: httpx.AsyncClient,
) -> None:
    root = await fastapi_client.get("/")
    schema = (await fastapi_client.get("/openapi.json")).json()

    assert (root.status_code, root.headers["location"]) == (307, "/docs")
    assert "/" not in schema["paths"]


async def test_the_openapi_document_logs_in_through_the_token_endpoint(
    fastapi_client: httpx.AsyncClient,
) -> None:
    schema = (await fastapi_client.get("/openapi.json")).json()

    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    pay = schema["paths"]["/orders/{order_id}/pay"]["post"]
    assert {"BearerToken": ["role:customer"]} in pay["security"]
    assert "409" in pay["responses"]


async def test_the_health_probes_answer(fastapi_client: httpx.AsyncClient) -> None:
    live = await fastapi_client.get("/health/live")
    ready = await fastapi_client.get("/health/ready")

    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["status"] == "pass"


async def test_seeding_twice_adds_the_demo_data_once_and_its_accounts_log_in(
    fastapi_client: httpx.AsyncClient,
    fastapi_session: AsyncSession,
    fastapi_database: Database,
) -> None:
    hasher = PasswordHasher(FAST_ARGON2, nice=0)
    try:
        first = await seed(fastapi_database, hasher)
        second = await seed(fastapi_database, hasher)
    finally:
        hasher.close()
    users = await fastapi_session.scalar(select(func.count()).select_from(User))
    products = await fastapi_session.scalar(select(func.count()).select_from(Product))
    (alice, alice_password, _), (bob, bob_password, _) = DEMO_USERS

    alice_login = await fastapi_client.post(
        "/auth/token", data={"username": alice, "password": alice_password}
    )
    bob_login = await fastapi_client.post(
        "/auth/token", data={"username": bob, "password": bob_password}
    )
    bob_headers = {"Authorization": f"Bearer {bob_login.json()['access_token']}"}
    created = await fastapi_client.post(
        "/products",
        json={"sku": "BOB-1", "name": "Staff pick", "price_cents": 1},
        headers=bob_headers,
    )

    assert len(first) == 6
    assert second == []
    assert (users, products) == (2, 4)
    assert alice_login.status_code == 200
    assert created.status_code == 201


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``python -m examples.orders`` running on a free port, with its database in tmp_path."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    database = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.orders",
                "--port",
                str(port),
                "--database-url",
                database,
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not answers(f"{base_url}/health/live"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"python -m examples.orders did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_python_dash_m_seeds_and_serves_the_demo(served: str) -> None:
    email, password, _ = DEMO_USERS[0]

    login = httpx.post(f"{served}/auth/token", data={"username": email, "password": password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    products = httpx.get(f"{served}/products", headers=headers)

    assert login.status_code == 200
    assert products.json()["total"] == 4
