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
import functools
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import _http
import asyncpg
from _http import (
    Headers,
    Load,
    Result,
    Server,
    add_arguments,
    check_body,
    describe,
    figures,
    load_options,
    ready,
    require_wrk,
    rounds,
    serve,
    table,
    wait_ready,
)
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
class Variant(_http.Variant):
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


# -- servers and the run ---------------------------------------------------------------------------


@dataclass
class Options(Load):
    admin_url: str


def headers_for(variant: _http.Variant, token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"} if BY_KEY[variant.key].authenticated else {}


def servers(env: Headers, options: Options) -> contextlib.AbstractContextManager[list[Server]]:
    return _http.servers(__file__, VARIANTS, PATH, env, options.server_cpu)


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
                    await asyncio.to_thread(check_body, server, headers, EXPECTED)
                before = proxy.count
                for _ in range(20):
                    proxy.sent.clear()
                    await asyncio.to_thread(check_body, server, headers, EXPECTED)
                counts[server.variant.key] = (proxy.count - before) / 20
                sent[server.variant.key] = list(proxy.sent)
    finally:
        await proxy.close()
    return counts


def load(env: Headers, token: str, options: Options, results: dict[str, Result]) -> None:
    with servers(env, options) as started:
        headers = functools.partial(headers_for, token=token)
        ready(started, headers, EXPECTED)
        rounds(started, headers, options, results)


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
    print(f"\n{describe(options)}\n")
    table(
        ["Variant", "req/s", "vs (b)", "vs (a)", "p99 ms", "non-2xx", "round trips/request"],
        (
            [f"({key}) {BY_KEY[key].label}", *figures(result, base, raw), f"{result.round_trips:g}"]
            for key, result in results.items()
        ),
    )
    ratio = results["c"].rate / base
    errors = sum(result.errors for result in results.values())
    verdict = "met" if ratio >= 0.95 else "missed"
    print(f"\nTarget (c) >= 0.95x (b): {verdict} ({ratio:.2f}x). Errors: {errors} (must be 0).")


def main(options: Options) -> None:
    require_wrk()
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
    add_arguments(parser)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FASTAPI_PRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    return args, Options(**load_options(args), admin_url=args.postgres_url)


if __name__ == "__main__":
    arguments, settings = parse()
    if arguments.serve:
        serve(BY_KEY[arguments.serve].factory, arguments.port, settings.server_cpu)
    else:
        main(settings)
