"""Serve apps with uvicorn and load them with wrk: the machinery of the over-HTTP benchmarks.

A benchmark script lists its `Variant`\\ s (a key, a label, a factory returning the app) and
re-runs itself with ``--serve KEY --port N`` for each, so that every variant gets a process of
its own: one uvicorn worker (uvloop, httptools, uvicorn's access log off) pinned to the server
CPU, its output sent to ``/dev/null``. ``wrk`` (one thread, pinned to the client CPU) warms each
up, then measures it; rounds are interleaved, the order rotating, and a `Result` keeps every run
for the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import uvicorn
from fastapi import FastAPI

Headers = dict[str, str]


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    factory: Callable[[], FastAPI]


@dataclass
class Load:
    """How the variants are loaded: the command-line options every such script shares."""

    rounds: int
    duration: int
    warmup: int
    connections: int
    server_cpu: int
    client_cpu: int


def add_arguments(parser: argparse.ArgumentParser, rounds: int = 3) -> None:
    """Add `Load`'s options and the hidden ``--serve KEY --port N`` of a server process."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server process of one variant
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)


def load_options(args: argparse.Namespace) -> dict[str, int]:
    """`Load`'s fields as parsed by `add_arguments`."""
    return {option.name: getattr(args, option.name) for option in fields(Load)}


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed. Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk."
        )


# -- a server per variant --------------------------------------------------------------------------


def serve(factory: Callable[[], FastAPI], port: int, cpu: int) -> None:
    """The server process: one uvicorn worker on ``port``, pinned to ``cpu``."""
    os.sched_setaffinity(0, {cpu})
    app = factory()
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    variant: Variant
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(script: str, variant: Variant, path: str, env: Headers, cpu: int) -> Server:
    """Run ``script --serve`` for ``variant`` on a free port; the server answers at ``path``."""
    port = free_port()
    command = [sys.executable, script, "--serve", variant.key, "--port", str(port)]
    command += ["--server-cpu", str(cpu)]
    process = subprocess.Popen(  # noqa: S603 - a bench script, with our own arguments
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Server(variant, f"http://127.0.0.1:{port}{path}", process)


@contextlib.contextmanager
def servers(
    script: str, variants: Sequence[Variant], path: str, env: Headers, cpu: int
) -> Iterator[list[Server]]:
    """A server for each of ``variants``, all stopped on the way out."""
    started: list[Server] = []
    try:
        for variant in variants:
            started.append(start(script, variant, path, env, cpu))
        yield started
    finally:
        for server in started:
            server.stop()


def get(url: str, headers: Headers) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(server: Server, headers: Headers, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"{server.variant.label}: the server exited ({server.process.returncode})."
            raise SystemExit(msg)
        with contextlib.suppress(OSError):
            get(server.url, headers)
            return
        time.sleep(0.1)
    msg = f"{server.variant.label}: the server did not answer within {timeout:.0f} s."
    raise SystemExit(msg)


def check_body(server: Server, headers: Headers, expected: Any) -> None:
    """Stop the run unless ``server`` answers 200 with ``expected`` as its JSON body."""
    status, body = get(server.url, headers)
    if status != 200 or json.loads(body) != expected:
        msg = f"{server.variant.label}: wrong answer {status} {body[:200]!r}."
        raise SystemExit(msg)


def ready(started: list[Server], headers: Callable[[Variant], Headers], expected: Any) -> None:
    """Wait for every server, and check that each answers 200 with ``expected``."""
    for server in started:
        wait_ready(server, headers(server.variant))
        check_body(server, headers(server.variant), expected)


# -- wrk -------------------------------------------------------------------------------------------


@dataclass
class Run:
    requests_per_second: float
    p99_ms: float
    errors: int


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(output: str) -> Run:
    """Requests per second, the 99th percentile and the errors (non-2xx/3xx and socket)."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if rate is None or p99 is None:
        raise SystemExit(f"Could not read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors is not None:
        errors += sum(int(n) for n in socket_errors.groups())
    return Run(float(rate.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], errors)


def wrk(server: Server, headers: Headers, seconds: int, options: Load) -> Run:
    command = ["taskset", "-c", str(options.client_cpu), "wrk", "--latency", "-t1"]
    command += [f"-c{options.connections}", f"-d{seconds}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(  # noqa: S603 - wrk, with our own arguments
        [*command, server.url], capture_output=True, text=True, check=True
    )
    return parse_wrk(done.stdout)


# -- the rounds ------------------------------------------------------------------------------------


@dataclass
class Result:
    runs: list[Run] = field(default_factory=list)
    round_trips: float = 0.0

    @property
    def rate(self) -> float:
        return statistics.median(run.requests_per_second for run in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)


def rounds(
    started: list[Server],
    headers: Callable[[Variant], Headers],
    options: Load,
    results: dict[str, Result],
) -> None:
    """Warm up then measure every server once a round, the order rotating each round."""
    for round_ in range(options.rounds):
        order = started[round_ % len(started) :] + started[: round_ % len(started)]
        for server in order:
            wrk(server, headers(server.variant), options.warmup, options)
            run = wrk(server, headers(server.variant), options.duration, options)
            results[server.variant.key].runs.append(run)
            print(
                f"round {round_ + 1}, {server.variant.key}: {run.requests_per_second:.0f} "
                f"req/s, p99 {run.p99_ms:.1f} ms, errors {run.errors}",
                flush=True,
            )


def figures(result: Result, *bases: float) -> list[object]:
    """Requests per second, its ratio to each of ``bases``, the p99 (ms) and the errors."""
    ratios = (f"{result.rate / base:.2f}x" for base in bases)
    return [f"{result.rate:.0f}", *ratios, f"{result.p99:.1f}", result.errors]


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a Markdown table, every column but the first aligned right."""
    print("| " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * (len(columns) - 1))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def describe(options: Load) -> str:
    return (
        f"{options.connections} connections, {options.duration:g} s after {options.warmup:g} s "
        f"of warm-up, median of {options.rounds} rounds; server on CPU {options.server_cpu}, "
        f"wrk on CPU {options.client_cpu}"
    )
