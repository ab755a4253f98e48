"""``fastapi-pro demo``: seed the orders example's database, say how to sign in, serve it.

``python -m examples.orders`` runs this same code. The example comes from the source tree when
``examples.orders`` is importable (a checkout), else from the copy the wheel carries under
``fastapi_pro/cli/_examples``.

The demo serves the example, not the project it is started in: it reads no ``.env`` file, and
its database is ``./fastapi-pro-demo.db`` unless ``--database-url`` names another, whatever
``FASTAPI_PRO_DATABASE__URL`` says. Other ``FASTAPI_PRO_*`` variables of the environment apply.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fastapi_pro.cli._errors import CommandError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fastapi_pro.settings import Settings

EXAMPLE = "examples.orders"
APP_FACTORY = "fastapi_pro.cli._demo:create_worker_app"
"""What uvicorn imports, in this process or in each worker."""
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./fastapi-pro-demo.db"
"""The demo's own database, a file in the working directory: never a project's ``./app.db``."""
DATABASE_URL_VARIABLE = "FASTAPI_PRO_DATABASE__URL"
"""Set by the demo to its database, for itself and its workers, replacing any inherited value."""

_PACKAGED = Path(__file__).parent / "_examples"
_CHECKOUT = Path(__file__).parents[3]  # src/fastapi_pro/cli -> the repository, in a checkout

Seed = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``fastapi-pro demo`` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    workers: int = 1

    @property
    def base_url(self) -> str:
        """Where a browser on this machine reaches the server."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


def serve(options: DemoOptions) -> None:
    """Seed the example's database, print how to sign in, and serve until interrupted.

    Raises:
        CommandError: When uvicorn or the example cannot be found, or the database URL is not
            one fastapi-pro can use.
    """
    uvicorn = _require_uvicorn()
    ensure_example_importable()
    url = DEFAULT_DATABASE_URL if options.database_url is None else options.database_url
    _apply({DATABASE_URL_VARIABLE: _async_url(url)})  # replaces an inherited one, for the workers
    configured = _settings()
    with _metrics_directory(options.workers, configured) as multiproc_dir:
        _apply(_environment(options, configured, multiproc_dir))
        settings = _settings()
        asyncio.run(prepare(settings, options.base_url))
        print(
            f"Serving on {options.base_url} with {options.workers} worker(s); Ctrl+C stops.",
            flush=True,  # before uvicorn's output, also when stdout is a pipe or a file
        )
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
        )


def create_worker_app() -> FastAPI:
    """The example's app as each worker serves it: on the tables `prepare` created.

    The workers create no table: several of them doing so at once would race ("table ...
    already exists") and stop the server.
    """
    ensure_example_importable()
    main = importlib.import_module(f"{EXAMPLE}.main")
    app: FastAPI = main.create_app(_settings(), create_tables=False)
    return app


async def prepare(settings: Settings, base_url: str) -> None:
    """Create the example's tables, add the demo rows that are missing, say how to sign in.

    Running it again adds nothing. When refresh tokens are kept in the database (several
    workers), their tables are created here too, so the workers do not race to create them.
    """
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - heavy, loaded on use

    from fastapi_pro.auth import SqlTokenStore  # noqa: PLC0415
    from fastapi_pro.db import Database  # noqa: PLC0415
    from fastapi_pro.errors import AppError  # noqa: PLC0415

    seed = cast("Seed", importlib.import_module(f"{EXAMPLE}.seed").main)
    url = settings.database.url.get_secret_value()
    try:
        await seed(settings, base_url=base_url)
        if settings.auth.token_store == "database":  # noqa: S105 - a store's name
            database = Database.from_settings(settings.database)
            try:
                await SqlTokenStore(database).create_tables()
            finally:
                await database.dispose()
    except (OSError, ImportError, SQLAlchemyError, AppError) as error:
        msg = f"cannot prepare the database at {_hide_password(url)}: {error}"
        raise CommandError(msg) from error


def ensure_example_importable() -> None:
    """Make ``examples.orders`` importable: as it is, else from the wheel or the checkout.

    Raises:
        CommandError: When no copy of the example is found.
    """
    if _importable(EXAMPLE):
        return
    for root in (_PACKAGED, _CHECKOUT):
        if (root / "examples" / "orders" / "__init__.py").is_file():
            sys.path.insert(0, str(root))
            for name in [n for n in sys.modules if n == "examples" or n.startswith("examples.")]:
                del sys.modules[name]  # another project's `examples` package was in the way
            importlib.invalidate_caches()
            if _importable(EXAMPLE):
                return
    msg = (
        f"the orders example is missing: it ships in the fastapi-pro wheel under {_PACKAGED}; "
        "reinstall fastapi-pro, or run the command from a fastapi-pro checkout."
    )
    raise CommandError(msg)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package of that name exists, but not this child
        return False


def _require_uvicorn() -> Any:
    try:
        return importlib.import_module("uvicorn")
    except ImportError:
        msg = (
            "the demo is served by uvicorn, which is not installed. Install the 'demo' extra: "
            "pip install 'fastapi-pro[demo]'"
        )
        raise CommandError(msg) from None


def _environment(
    options: DemoOptions, configured: Settings, multiproc_dir: str | None
) -> dict[str, str]:
    """The variables the server and its workers need, on top of those already set.

    A signing key is made for this run when none is configured, so every worker accepts the
    tokens of the others; with several workers, refresh tokens are kept in the database and
    metrics are shared, unless configured otherwise.
    """
    environ: dict[str, str] = {}
    auth = configured.auth
    if auth.algorithm.startswith("HS") and auth.secret_key is None:
        environ["FASTAPI_PRO_AUTH__SECRET_KEY"] = secrets.token_urlsafe(32)
    if options.workers > 1 and "token_store" not in auth.model_fields_set:
        environ["FASTAPI_PRO_AUTH__TOKEN_STORE"] = "database"  # noqa: S105 - a store's name
    if multiproc_dir is not None:
        environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    return environ


def _apply(environ: Mapping[str, str]) -> None:
    """Export ``environ`` to this process, hence to the workers uvicorn starts."""
    import os  # noqa: PLC0415 - the only place the demo writes the environment

    os.environ.update(environ)


def _settings() -> Settings:
    """The demo's settings: the environment's, never a ``.env`` file of the working directory."""
    from fastapi_pro.settings import Settings  # noqa: PLC0415 - heavy, loaded on use

    try:
        return Settings(_env_file=None)
    except ValueError as error:  # pydantic's ValidationError
        raise CommandError(f"invalid settings: {error}") from None


def _async_url(url: str) -> str:
    """``url`` with fastapi-pro's async driver for its backend, checked for form."""
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415 - heavy, loaded on use

    from fastapi_pro.db import async_url  # noqa: PLC0415

    try:
        return async_url(url).render_as_string(hide_password=False)
    except ArgumentError:
        msg = (
            f"--database-url {_hide_password(url)!r} is not a database URL; try "
            "sqlite+aiosqlite:///./demo.db or postgresql+asyncpg://user:password@host/db"
        )
        raise CommandError(msg) from None


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - heavy, loaded on use
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


@contextmanager
def _metrics_directory(workers: int, configured: Settings) -> Generator[str | None, None, None]:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for several workers, removed when they stop."""
    if workers == 1 or configured.prometheus_multiproc_dir is not None:
        yield None
        return
    path = tempfile.mkdtemp(prefix="fastapi-pro-demo-metrics-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
