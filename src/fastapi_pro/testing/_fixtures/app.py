"""Fixtures of the app under test: the app with its lifespan running, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from fastapi_pro.testing import _options

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

BASE_URL = "http://test"

_NO_APP = (
    "fastapi-pro: no app to test. Set fastapi_pro_app = 'package.module:app' "
    "under [tool.pytest.ini_options], or override the `fastapi_app` fixture."
)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fastapi_app(
    request: pytest.FixtureRequest, fastapi_database_url: str
) -> AsyncIterator[FastAPI]:
    """The app under test, with its lifespan running for the whole session.

    Configured with ``fastapi_pro_app = "package.module:app"`` (an app or an app factory)
    under ``[tool.pytest.ini_options]``; or override this fixture (see `run_app`).
    ``FASTAPI_PRO_DATABASE__URL`` names the test database while the app is imported,
    built and started, so an app that reads `Settings` uses it.
    """
    from fastapi_pro.testing._app import build_app, load_target, run_app  # noqa: PLC0415

    spec = str(request.config.getini(_options.APP_OPTION))
    if not spec:
        pytest.fail(_NO_APP, pytrace=False)
    metadata_spec = str(request.config.getini(_options.METADATA_OPTION)).strip()
    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("FASTAPI_PRO_DATABASE__URL", fastapi_database_url)
        app = await build_app(load_target(spec))
        metadata = None if metadata_spec.lower() == "none" else load_target(metadata_spec)
        running = run_app(app, database_url=fastapi_database_url, metadata=metadata)
        started = await running.__aenter__()
    try:
        yield started
    finally:
        await running.__aexit__(None, None, None)


@pytest.fixture
def _fastapi_pro_overrides(fastapi_app: FastAPI) -> Iterator[None]:
    """Put the app's dependency overrides back as they were before the test."""
    saved = dict(fastapi_app.dependency_overrides)
    yield
    fastapi_app.dependency_overrides.clear()
    fastapi_app.dependency_overrides.update(saved)


@pytest_asyncio.fixture(loop_scope="session")
async def fastapi_client(
    fastapi_app: FastAPI, _fastapi_pro_isolation: Any, _fastapi_pro_overrides: None
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` sending requests to the app, at ``http://test``.

    The app's sessions share the test's rolled-back transaction; unhandled errors come
    back as 500 responses, as a real client would see them.
    """
    import httpx  # noqa: PLC0415

    from fastapi_pro.testing._app import served_app  # noqa: PLC0415

    transport = httpx.ASGITransport(app=served_app(fastapi_app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
