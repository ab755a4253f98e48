"""Free loopback ports, and an app served under a real uvicorn, for tests that work from outside."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp


@dataclass(frozen=True)
class Server:
    """A running server: where it answers."""

    url: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(
    app: Sequence[str], *, cwd: Path, env: Mapping[str, str], ready: str = "/openapi.json"
) -> Iterator[Server]:
    """Run ``uvicorn *app`` until the block ends; wait until ``ready`` answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port)]
    log = cwd / f"uvicorn-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}")
    try:
        _wait_until_ready(server.url + ready, process, log)
        yield server
    finally:
        stop(process, signal.SIGINT)


def stop(
    process: subprocess.Popen[bytes], sent: signal.Signals = signal.SIGTERM, timeout: float = 15
) -> None:
    """Send ``sent`` and wait for the process; kill it when it outlives ``timeout`` seconds."""
    process.send_signal(sent)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer within 30 s: {log.read_text()[-4000:]}")


def bearer_token(server: Server, username: str, password: str) -> str:
    """An access token from the server's password-flow token endpoint."""
    form = {"username": username, "password": password}
    response = httpx.post(f"{server.url}/auth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@contextlib.asynccontextmanager
async def in_process(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it in process; unhandled errors come back as 500s."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
