"""Throughput under load over real HTTP: the documented fastapi-pro path against hand-written code.

Run: ``uv run --group bench python bench/load.py [--rounds 3] [--duration 10] [--warmup 3]``.
Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``; macOS: ``brew install wrk``) and the
PostgreSQL server named by ``--postgres-url`` (an admin URL; the default is a local ``postgres``
user on the ``test`` database).

Target: the documented path, ``setup(app, Settings())`` with ``SessionDep`` through a
repository (variant c), serves at least 0.95x the requests per second of hand-written
SQLAlchemy (variant b).

Every variant answers RealWorld's ``GET /api/tags`` (``{"tags": [...]}``, 20 tags read from
PostgreSQL, ordered by name) with the same body, and each is a small app of its own, listed in
`VARIANTS`: to add one, write a factory returning the app and add a row. Each is served by a
real uvicorn process (one worker, uvloop and httptools, on a free loopback port, pinned to
``--server-cpu``) and loaded by ``wrk`` (one thread, 32 connections, pinned to
``--client-cpu``): a warm-up of ``--warmup`` seconds, then ``--duration`` seconds measured.
Rounds are interleaved, the order rotating, and each figure is the median over rounds: requests
per second, and the 99th percentile latency wrk reports. Responses other than 2xx/3xx and
socket errors are summed over every measured run; they must be 0.

Before the load, every variant's body is checked, and its round trips to PostgreSQL per
request are counted by serving it once more through a counting proxy (`_pgwire.RoundTrips`):
statements, ``BEGIN``/``COMMIT``/``ROLLBACK``, pool pre-pings and pool resets each count, as
each is a wait on the server.

A scratch database, ``fastapi_pro_bench_load``, is created at the start and dropped at the end,
seeded with the same ``tags`` and ``users`` rows for every variant. The servers log at
fastapi-pro's defaults (an access line per request) into ``/dev/null``; uvicorn's own access
log is off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
import uvicorn
from _pgwire import RoundTrips
from _scratch import recreate_database
from fastapi import Depends, FastAPI, Request
from sqlalchemy import String, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import CurrentUser, Key, KeyRing, Principal, Tokens
from fastapi_pro.db import Base, BigIntPrimaryKey, Database, ReadConnectionDep, Repository

BENCH_DATABASE = "fastapi_pro_bench_load"
PATH = "/api/tags"
TAGS = sorted(
    [
        "angularjs",
        "reactjs",
        "vuejs",
        "dragons",
        "training",
        "welcome",
        "implementations",
        "codebaseShow",
        "introduction",
        "javascript",
        "python",
        "rust",
        "go",
        "elixir",
        "haskell",
        "ruby",
        "java",
        "kotlin",
        "swift",
        "typescript",
    ]
)
EXPECTED = {"tags": TAGS}
URL_VARIABLE = "FASTAPI_PRO_DATABASE__URL"  # every variant reads its database from here
SECRET_VARIABLE = "FASTAPI_PRO_AUTH__SECRET_KEY"  # noqa: S105 - a variable's name
POOL_SIZE, MAX_OVERFLOW = 5, 10  # Database's defaults, given to the hand-written variants too


class Tag(BigIntPrimaryKey, Base):
    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(String(50), unique=True)


class User(BigIntPrimaryKey, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Tags(Repository[Tag]):
    async def names(self) -> list[str]:
        return list(await self.session.scalars(select(Tag.name).order_by(Tag.name)))


class Users(Repository[User]):
    pass


TagsDep = Annotated[Tags, Depends(Tags.for_request)]  # as docs/db.md shows
TAGS_SQL = "SELECT name FROM tags ORDER BY name"


def database_url() -> str:
    return os.environ[URL_VARIABLE]


def asyncpg_url() -> str:
    return make_url(database_url()).set(drivername="postgresql").render_as_string(False)


# -- the variants ---------------------------------------------------------------------------------


def raw_asyncpg() -> FastAPI:
    """(a) Plain FastAPI, an asyncpg pool on the app's lifespan state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        size = POOL_SIZE + MAX_OVERFLOW
        async with asyncpg.create_pool(asyncpg_url(), min_size=POOL_SIZE, max_size=size) as pool:
            yield {"pool": pool}

    app = FastAPI(lifespan=lifespan)

    @app.get(PATH)
    async def tags(request: Request) -> dict[str, list[str]]:
        async with request.state.pool.acquire() as connection:
            rows = await connection.fetch(TAGS_SQL)
        return {"tags": [row[0] for row in rows]}

    return app


def plain_sqlalchemy() -> FastAPI:
    """(b) Plain FastAPI, a hand-written ``AsyncSession`` dependency, no pre-ping."""
    engine = create_async_engine(
        database_url(), pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_pre_ping=False
    )
    maker = async_sessionmaker(engine, expire_on_commit=False)

    async def session() -> AsyncIterator[AsyncSession]:
        async with maker() as s:
            yield s

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get(PATH)
    # A default rather than Annotated: the dependency is local, and annotations are strings here.
    async def tags(s: AsyncSession = Depends(session)) -> dict[str, list[str]]:  # noqa: B008
        return {"tags": list(await s.scalars(select(Tag.name).order_by(Tag.name)))}

    return app


def documented() -> FastAPI:
    """(c) ``setup(app, Settings())`` and a repository through ``for_request`` (docs/db.md)."""
    app = FastAPI()
    setup(app, Settings())

    @app.get(PATH)
    async def tags(tags: TagsDep) -> dict[str, list[str]]:
        return {"tags": await tags.names()}

    return app


async def load_user(principal: Principal, session: AsyncSession) -> User | None:
    """The loader of docs/auth.md: it reads the user on the request's own session."""
    return await Users(session).get_or_none(int(principal.subject))


def documented_auth() -> FastAPI:
    """(d) (c) behind ``CurrentUser[User]``, the user read from the ``users`` table."""
    app = FastAPI()
    setup(app, Settings(), user_loader=load_user)

    @app.get(PATH)
    async def tags(user: CurrentUser[User], tags: TagsDep) -> dict[str, list[str]]:
        return {"tags": await tags.names()}

    return app


def lean_read() -> FastAPI:
    """(f) ``setup(app, Settings())`` and a Core read on ``ReadConnectionDep`` (docs/db.md)."""
    app = FastAPI()
    setup(app, Settings())

    @app.get(PATH)
    async def tags(read: ReadConnectionDep) -> dict[str, list[str]]:
        return {"tags": list(await read.scalars(select(Tag.name).order_by(Tag.name)))}

    return app


def session_path_only() -> FastAPI:
    """(g) (c) without ``setup()``: ``Database(url)``'s lifespan, the repository on `SessionDep`."""
    app = FastAPI(lifespan=Database(database_url()).lifespan)

    @app.get(PATH)
    async def tags(tags: TagsDep) -> dict[str, list[str]]:
        return {"tags": await tags.names()}

    return app


def setup_asyncpg() -> FastAPI:
    """(e) (a) with ``setup()``'s middleware and handlers, no `Database`."""
    app = raw_asyncpg()
    setup(app, Settings(), database=False)
    return app


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    factory: Callable[[], FastAPI]
    authenticated: bool = False


VARIANTS = (
    Variant("a", "FastAPI + asyncpg pool", raw_asyncpg),
    Variant("b", "FastAPI + hand-written AsyncSession", plain_sqlalchemy),
    Variant("c", "fastapi-pro: setup() + SessionDep repository", documented),
    Variant("d", "fastapi-pro: (c) + CurrentUser[User]", documented_auth, authenticated=True),
    Variant("e", "FastAPI + asyncpg pool + setup() (no Database)", setup_asyncpg),
    Variant("f", "fastapi-pro: setup() + ReadConnectionDep (lean read)", lean_read),
    Variant("g", "FastAPI + Database + SessionDep repository (no setup())", session_path_only),
)
BY_KEY = {variant.key: variant for variant in VARIANTS}


# -- a server per variant --------------------------------------------------------------------------


def serve(key: str, port: int, cpu: int) -> None:
    """The server process: one uvicorn worker on ``port``, pinned to ``cpu``."""
    os.sched_setaffinity(0, {cpu})
    app = BY_KEY[key].factory()
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    variant: Variant
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(variant: Variant, env: dict[str, str], cpu: int) -> Server:
    port = free_port()
    command = [sys.executable, __file__, "--serve", variant.key, "--port", str(port)]
    command += ["--server-cpu", str(cpu)]
    process = subprocess.Popen(  # noqa: S603 - this very script, with our own arguments
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Server(variant, port, process)


def get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(server: Server, headers: dict[str, str], timeout: float = 60) -> None:
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


def check_body(server: Server, headers: dict[str, str]) -> None:
    import json  # noqa: PLC0415 - only here

    status, body = get(server.url, headers)
    if status != 200 or json.loads(body) != EXPECTED:
        msg = f"{server.variant.label}: wrong answer {status} {body[:200]!r}."
        raise SystemExit(msg)


# -- wrk -------------------------------------------------------------------------------------------


@dataclass
class Run:
    requests_per_second: float
    p99_ms: float
    errors: int


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(output: str) -> Run:
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


def wrk(server: Server, headers: dict[str, str], seconds: int, options: Options) -> Run:
    command = ["taskset", "-c", str(options.client_cpu), "wrk", "--latency", "-t1"]
    command += [f"-c{options.connections}", f"-d{seconds}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(  # noqa: S603 - wrk, with our own arguments
        [*command, server.url], capture_output=True, text=True, check=True
    )
    return parse_wrk(done.stdout)


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Options:
    rounds: int
    duration: int
    warmup: int
    connections: int
    server_cpu: int
    client_cpu: int
    admin_url: str


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


def headers_for(variant: Variant, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if variant.authenticated else {}


@contextlib.contextmanager
def servers(env: dict[str, str], options: Options) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for variant in VARIANTS:
            started.append(start(variant, env, options.server_cpu))
        yield started
    finally:
        for server in started:
            server.stop()


async def count_round_trips(
    env: dict[str, str], token: str, options: Options, sent: dict[str, list[str]]
) -> dict[str, float]:
    """Round trips per request of each variant, served once through the counting proxy.

    ``sent`` gets what the last request sent to PostgreSQL, for each variant.
    """
    proxy = RoundTrips()
    port = await proxy.start()
    counted = dict(env, **{URL_VARIABLE: proxy.url(env[URL_VARIABLE], port)})
    counts: dict[str, float] = {}
    try:
        with servers(counted, options) as started:
            for server in started:
                headers = headers_for(server.variant, token)
                await asyncio.to_thread(wait_ready, server, headers)
                for _ in range(5):  # connections opened, statements prepared
                    await asyncio.to_thread(check_body, server, headers)
                before = proxy.count
                for _ in range(20):
                    proxy.sent.clear()
                    await asyncio.to_thread(check_body, server, headers)
                counts[server.variant.key] = (proxy.count - before) / 20
                sent[server.variant.key] = list(proxy.sent)
    finally:
        await proxy.close()
    return counts


def load(env: dict[str, str], token: str, options: Options, results: dict[str, Result]) -> None:
    with servers(env, options) as started:
        for server in started:
            headers = headers_for(server.variant, token)
            wait_ready(server, headers)
            check_body(server, headers)
        for round_ in range(options.rounds):
            order = started[round_ % len(started) :] + started[: round_ % len(started)]
            for server in order:
                headers = headers_for(server.variant, token)
                wrk(server, headers, options.warmup, options)
                run = wrk(server, headers, options.duration, options)
                results[server.variant.key].runs.append(run)
                print(
                    f"round {round_ + 1}, {server.variant.key}: {run.requests_per_second:.0f} "
                    f"req/s, p99 {run.p99_ms:.1f} ms, errors {run.errors}",
                    flush=True,
                )


async def seed(url: str) -> None:
    db = Database(url)
    try:
        await db.create_all(Base.metadata)
        async with db.session() as session:
            session.add_all(Tag(name=name) for name in TAGS)
            session.add_all(
                User(email=f"user{i}@example.com", name=f"User {i}") for i in range(1, 101)
            )
    finally:
        await db.dispose()


def print_table(results: dict[str, Result], options: Options) -> None:
    base, raw = results["b"].rate, results["a"].rate
    print(
        f"\n{options.connections} connections, {options.duration:g} s after {options.warmup:g} s "
        f"of warm-up, median of {options.rounds} rounds; server on CPU {options.server_cpu}, "
        f"wrk on CPU {options.client_cpu}\n"
    )
    print("| Variant | req/s | vs (b) | vs (a) | p99 ms | non-2xx | round trips/request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for variant in VARIANTS:
        result = results[variant.key]
        print(
            f"| ({variant.key}) {variant.label} | {result.rate:.0f} | {result.rate / base:.2f}x "
            f"| {result.rate / raw:.2f}x | {result.p99:.1f} | {result.errors} "
            f"| {result.round_trips:g} |"
        )
    ratio = results["c"].rate / base
    errors = sum(result.errors for result in results.values())
    verdict = "met" if ratio >= 0.95 else "missed"
    print(f"\nTarget (c) >= 0.95x (b): {verdict} ({ratio:.2f}x). Errors: {errors} (must be 0).")


def main(options: Options) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed. Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk."
        )
    secret = secrets.token_urlsafe(32)
    tokens = Tokens(KeyRing(Key.hmac(secret)), access_ttl=timedelta(hours=2))
    token = tokens.issue("1")
    url = asyncio.run(recreate_database(options.admin_url, BENCH_DATABASE))
    env = dict(os.environ, **{URL_VARIABLE: url, SECRET_VARIABLE: secret})
    results = {variant.key: Result() for variant in VARIANTS}
    sent: dict[str, list[str]] = {}
    try:
        asyncio.run(seed(url))
        counts = asyncio.run(count_round_trips(env, token, options, sent))
        for key, count in counts.items():
            results[key].round_trips = count
        load(env, token, options, results)
    finally:
        asyncio.run(recreate_database(options.admin_url, BENCH_DATABASE, drop_only=True))
    print_table(results, options)
    print("\nWhat one request sends to PostgreSQL (<sync>: an extended-protocol round trip):")
    for key, messages in sent.items():
        print(f"({key}) " + " | ".join(" ".join(message.split())[:60] for message in messages))


def parse() -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FASTAPI_PRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server process of one variant
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = Options(
        args.rounds,
        args.duration,
        args.warmup,
        args.connections,
        args.server_cpu,
        args.client_cpu,
        args.postgres_url,
    )
    return args, options


if __name__ == "__main__":
    arguments, settings = parse()
    if arguments.serve:
        serve(arguments.serve, arguments.port, settings.server_cpu)
    else:
        main(settings)
