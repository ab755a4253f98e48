"""Static checks of the test helpers: mypy must accept this file."""

from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, assert_type

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_pro.auth import Principal
from fastapi_pro.db import Database
from fastapi_pro.testing import (
    ActAs,
    CapturedMetrics,
    QueryCounter,
    TokenFactory,
    assert_problem,
    isolated,
    run_app,
)


def check(  # noqa: PLR0917 - every helper's type, one parameter each
    app: FastAPI,
    database: Database,
    response: httpx.Response,
    tokens: TokenFactory,
    act_as: ActAs,
    counter: QueryCounter,
    metrics: CapturedMetrics,
) -> None:
    assert_type(assert_problem(response, 404, code="not_found"), dict[str, Any])
    assert_type(tokens("alice", roles=["staff"], ttl=60), str)
    assert_type(tokens.headers("alice", scopes=["a"]), dict[str, str])
    assert_type(act_as(object(), roles=["staff"]), Principal)
    assert_type(counter.count, int)
    guard: AbstractContextManager[QueryCounter] = counter.assert_max(2)
    assert_type(metrics.value("http_server_request_duration_seconds_count"), float)
    running: AbstractAsyncContextManager[FastAPI] = run_app(app, database_url="sqlite://")
    isolation: AbstractAsyncContextManager[AsyncConnection] = isolated(database)
    print(guard, running, isolation)  # noqa: T201 - only mypy reads this file
