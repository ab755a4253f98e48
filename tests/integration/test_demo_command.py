"""``fastapi-pro demo`` as a newcomer runs it: a real process, real HTTP, a fresh folder.

The command is the README's, ``uv run fastapi-pro demo``, pointed at this checkout with
``--project`` since it runs from another folder (``uv run`` exports ``UV``, the path of the uv
that runs the tests); without uv, the ``fastapi-pro`` script next to this interpreter.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fastapi_pro.cli import main as fastapi_pro
from tests.servers import free_port

REPO = Path(__file__).parents[2]
START_SECONDS = 120  # uv may first bring the checkout's environment up to date
STOP_SECONDS = 20


def demo_command(port: int) -> list[str]:
    uv = os.environ.get("UV")
    if uv:
        return [uv, "run", "--project", str(REPO), "fastapi-pro", "demo", "--port", str(port)]
    script = Path(sys.executable).with_name("fastapi-pro")
    return [str(script), "demo", "--port", str(port)]


def clean_environment() -> dict[str, str]:
    """This process's environment without fastapi-pro's settings, as in a newcomer's shell."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FASTAPI_PRO_") and name != "PROMETHEUS_MULTIPROC_DIR"
    }


@dataclass
class Demo:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """Ctrl+C: the server gets one SIGINT, as from a terminal.

        A terminal signals the whole process group. Through ``uv run`` with no terminal, uv
        forwards a SIGINT it gets to its child itself, so the group would signal the server
        twice (a forced exit); there the signal goes to uv alone.
        """
        if os.environ.get("UV"):
            self.process.send_signal(signal.SIGINT)
        else:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=STOP_SECONDS)


def as_in_a_terminal() -> None:
    """Ctrl+C interrupts the command, even if this process was started with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running_demo(
    cwd: Path, log: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[Demo]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*demo_command(port), *options],
            cwd=cwd,
            env=clean_environment() if env is None else env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=as_in_a_terminal,  # noqa: PLW1509 - it only resets a signal's disposition
        )
    demo = Demo(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_live(demo)
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_live(demo: Demo) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if httpx.get(f"{demo.base_url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert demo.process.poll() is None, f"the demo exited:\n{demo.output()}"
        assert time.monotonic() < deadline, f"not live in {START_SECONDS} s:\n{demo.output()}"
        time.sleep(0.2)


def customer_account(output: str) -> tuple[str, str]:
    """The customer's email and password, as the demo printed them."""
    match = re.search(r"^\s+(\S+@\S+)\s+password (\S+)\s+role customer$", output, re.MULTILINE)
    assert match is not None, output
    return match.group(1), match.group(2)


def refuse_server_errors(response: httpx.Response) -> None:
    response.read()
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url}: {response.text}"


def walk_the_documented_flow(demo: Demo) -> None:
    """Sign in as the printed customer, order, pay, read, list; metrics and probes."""
    hooks = {"response": [refuse_server_errors]}
    with httpx.Client(base_url=demo.base_url, timeout=30, event_hooks=hooks) as client:
        root = client.get("/")
        assert (root.status_code, root.headers["location"]) == (307, "/docs")
        assert "swagger" in client.get("/docs").text.lower()
        email, password = customer_account(demo.output())
        login = client.post("/auth/token", data={"username": email, "password": password})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        order_and_pay(client)
        metrics = client.get("/metrics")
        assert metrics.status_code == 200, metrics.text
        assert 'http_route="/orders/{order_id}/pay"' in metrics.text
        for probe in ("/health/live", "/health/ready"):
            assert client.get(probe).status_code == 200, probe


def order_and_pay(client: httpx.Client) -> None:
    products = client.get("/products")
    assert products.status_code == 200, products.text
    product = products.json()["items"][0]
    placed = client.post("/orders", json={"lines": [{"product_id": product["id"], "quantity": 2}]})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["status"], order["total_cents"]) == ("pending", 2 * product["price_cents"])
    paid = client.post(f"/orders/{order['id']}/pay")
    assert (paid.status_code, paid.json()["status"]) == (200, "paid"), paid.text
    read = client.get(f"/orders/{order['id']}")
    assert (read.status_code, read.json()["status"]) == (200, "paid"), read.text
    listed = client.get("/orders")
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [order["id"]]


def assert_stopped_cleanly(demo: Demo) -> None:
    status = demo.stop()
    output = demo.output()
    # fastapi-pro exits with 0 after a clean shutdown; uv reports the Ctrl+C it got as 130
    assert status in ((0, 130) if os.environ.get("UV") else (0,)), f"status {status}:\n{output}"
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output


def tables_of(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_the_demo_serves_the_documented_flow_from_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "newcomer"
    folder.mkdir()

    with running_demo(folder, tmp_path / "demo.log") as demo:
        walk_the_documented_flow(demo)
        assert_stopped_cleanly(demo)

    assert {"users", "products", "orders", "order_lines"} <= tables_of(
        folder / "fastapi-pro-demo.db"
    )
    assert not (folder / "app.db").exists()


@pytest.mark.postgres
def test_the_demo_serves_the_documented_flow_on_a_new_postgresql_database(
    tmp_path: Path, scratch_database: str
) -> None:
    folder = tmp_path / "newcomer"
    folder.mkdir()

    with running_demo(folder, tmp_path / "demo.log", "--database-url", scratch_database) as demo:
        walk_the_documented_flow(demo)
        assert_stopped_cleanly(demo)

    assert list(folder.iterdir()) == []  # no SQLite file next to it


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_demo_leaves_the_database_of_the_service_it_runs_in_alone(tmp_path: Path) -> None:
    service = tmp_path / "my-service"
    assert fastapi_pro(["new", "my-service", "--directory", str(service)]) == 0
    own = service / "app.db"  # the service's development database, as .env.example names it
    with closing(sqlite3.connect(own)) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")
    before = digest(own)
    # what the service's .env would hold: its database, and a metrics token that, if the demo
    # read the file, would make /metrics answer 401
    env_file = (service / ".env.example").read_text()
    (service / ".env").write_text(f"{env_file}\nFASTAPI_PRO_OBSERVABILITY__METRICS_TOKEN=m\n")
    exported = service / "exported.db"
    env = {**clean_environment(), "FASTAPI_PRO_DATABASE__URL": f"sqlite:///{exported}"}

    with running_demo(service, tmp_path / "demo.log", env=env) as demo:
        walk_the_documented_flow(demo)
        assert_stopped_cleanly(demo)

    assert digest(own) == before
    assert tables_of(own) == {"items"}
    assert not exported.exists()
    assert {"users", "products", "orders"} <= tables_of(service / "fastapi-pro-demo.db")
