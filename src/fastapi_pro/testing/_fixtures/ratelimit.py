"""The fixture that starts every test with fresh rate-limit counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest_asyncio

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fastapi_pro.ratelimit import RateLimiter


@pytest_asyncio.fixture(loop_scope="session")
async def rate_limits(fastapi_app: FastAPI) -> AsyncIterator[RateLimiter]:
    """The app's `RateLimiter`, every count forgotten before the test and after it.

    Make it autouse in a conftest (``@pytest.fixture(autouse=True)`` over a fixture that
    requests it) so no test inherits another's spent limits.
    """
    from fastapi_pro.ratelimit import RateLimiter  # noqa: PLC0415

    limiter = RateLimiter.of(fastapi_app)
    await limiter.reset()
    yield limiter
    await limiter.reset()
