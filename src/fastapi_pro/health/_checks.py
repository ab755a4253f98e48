"""What a check is, how its outcome is judged, and the built-in datastore checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi_pro.errors import ServiceUnavailableError
from fastapi_pro.health._report import Status

if TYPE_CHECKING:
    from redis.asyncio import Redis

TIMEOUT, UNAVAILABLE, FAILED = "timeout", "unavailable", "failed"
"""The fixed outputs of failures: exception text never reaches a response body."""

_MAX_OUTPUT = 200
_PING_BOUND = 60.0  # a ping's own bound; the health run cuts every check much sooner


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check may return to report ``"warn"``, or a failure in its own words.

    Args:
        status: ``"pass"``, ``"warn"`` or ``"fail"``.
        output: A short phrase shown to anyone who can reach the probe: never put secrets in it.
    """

    status: Status = "pass"
    output: str | None = None


Check = Callable[[], Awaitable[CheckResult | bool | None]]
"""An async callable that passes by returning ``None`` or ``True``, fails by raising or
returning ``False``, or returns a `CheckResult` (or any object with ``status`` and ``output``)."""

Outcome = tuple[Status, str | None, Exception | None]


async def judge(check: Check, timeout: float) -> Outcome:  # noqa: ASYNC109 - the bound is the point
    """Run ``check`` within ``timeout`` seconds; return its status, public output and error."""
    try:
        async with asyncio.timeout(timeout):
            result = await check()
    except TimeoutError:  # a traceback would only show where the check was waiting
        return "fail", TIMEOUT, None
    except (ServiceUnavailableError, OSError) as error:
        return "fail", UNAVAILABLE, error
    except Exception as error:  # whatever a check raises, it failed
        return "fail", FAILED, error
    return _read(result)


def _read(result: object) -> Outcome:
    """The outcome a check's return value states: see `Check`."""
    if result is None or result is True:
        return "pass", None, None
    status = getattr(result, "status", None)
    if result is False or status not in ("pass", "warn", "fail"):
        return "fail", FAILED, None
    output = getattr(result, "output", None)
    if not isinstance(output, str) or not output:
        output = FAILED if status == "fail" else None
    return status, output and output[:_MAX_OUTPUT], None


@dataclass(frozen=True, slots=True)
class _DatastoreCheck:
    ping: Callable[[], Awaitable[object]]
    component_type: str = "datastore"

    async def __call__(self) -> None:
        await self.ping()


class SupportsPing(Protocol):
    """What `database_check` probes: an async ``ping`` that raises unless the store answers.

    `fastapi_pro.db.Database` is one; so is any object with a method of this shape.
    """

    async def ping(self, timeout: float) -> object:  # noqa: ASYNC109 - probes need a bound
        """Answer within ``timeout`` seconds, or raise."""
        ...


def database_check(db: SupportsPing) -> Check:
    """Return a check that runs ``SELECT 1`` on ``db``'s own probe connection (`Database.ping`).

    Args:
        db: A `Database`, or any `SupportsPing`; its ``ping`` gets a generous bound, since the
            health run cuts every check much sooner.
    """

    async def ping() -> None:
        await db.ping(timeout=_PING_BOUND)

    return _DatastoreCheck(ping)


def redis_check(client: Redis) -> Check:
    """Return a check that sends ``PING`` through a ``redis.asyncio`` client and its pool.

    Raises:
        ImportError: When the ``redis`` extra is not installed.
    """
    from redis import exceptions  # noqa: PLC0415 - redis is an optional extra

    async def ping() -> None:
        try:
            await client.ping()
        except (exceptions.ConnectionError, exceptions.TimeoutError) as error:
            msg = "Redis did not answer the health check."
            raise ServiceUnavailableError(msg, retry_after=1) from error

    return _DatastoreCheck(ping)
