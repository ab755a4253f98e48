"""`Health`: the checks of one app, run concurrently under a deadline, and the probe routes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI

from fastapi_pro.health._checks import TIMEOUT, Check, judge
from fastapi_pro.health._report import ComponentReport, HealthReport, HealthResponse, Status
from fastapi_pro.settings import HealthSettings

logger = logging.getLogger("fastapi_pro.health")

_SEVERITY: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True, slots=True)
class _Registered:
    name: str
    check: Check
    critical: bool
    timeout: float
    component_type: str


def _positive(name: str, value: float) -> float:
    if not value > 0:
        msg = f"Health {name} must be a positive number of seconds, not {value!r}."
        raise ValueError(msg)
    return value


class Health:
    """The checks of one app, and the liveness, readiness and startup routes that report them.

    Args:
        check_timeout: Seconds one check may take unless `add` gives it its own timeout.
        deadline: Seconds a whole readiness run may take; checks still running then fail.
        cache_ttl: Seconds a readiness result is reused, so probe floods spare the dependencies.
        version: The service version, sent as ``version``.
        service_id: A unique identifier of the service, sent as ``serviceId``.
        description: A human-friendly description of the service, sent as ``description``.
        manual_start: Keep ``/startup`` at 503 until `mark_started` is called, instead of
            passing once the checks pass.
        clock: Monotonic seconds, read by the cache (tests inject their own).
    """

    def __init__(
        self,
        *,
        check_timeout: float = 0.8,
        deadline: float = 0.9,
        cache_ttl: float = 1.0,
        version: str | None = None,
        service_id: str | None = None,
        description: str | None = None,
        manual_start: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.check_timeout = _positive("check_timeout", check_timeout)
        self.deadline = _positive("deadline", deadline)
        if not cache_ttl >= 0:
            msg = f"Health cache_ttl must be zero or more seconds, not {cache_ttl!r}."
            raise ValueError(msg)
        self.cache_ttl = cache_ttl
        self.version = version
        self.service_id = service_id
        self.description = description
        self._manual_start = manual_start
        self._clock = clock
        self._checks: dict[str, _Registered] = {}
        self._failing: set[str] = set()
        self._cached: tuple[float, HealthReport] | None = None
        self._running: asyncio.Task[HealthReport] | None = None
        self._stragglers: set[asyncio.Task[ComponentReport]] = set()
        self._started = False
        self._result_listeners: list[Callable[[str, bool], None]] = []

    @classmethod
    def from_settings(cls, settings: HealthSettings, **options: Any) -> Health:
        """Build a `Health` from the ``health`` section of `Settings`; ``options`` go to it too."""
        return cls(check_timeout=settings.check_timeout, cache_ttl=settings.cache_ttl, **options)

    def __repr__(self) -> str:
        return f"Health(checks={list(self._checks)!r})"

    def __contains__(self, name: object) -> bool:
        """Whether a check named ``name`` is registered."""
        return name in self._checks

    def add(
        self,
        name: str,
        check: Check,
        *,
        critical: bool = True,
        timeout: float | None = None,
        component_type: str | None = None,
    ) -> None:
        """Register ``check`` under ``name``; a failing non-critical check only gives ``warn``.

        Args:
            name: The component name, reported as ``"<name>:responseTime"``.
            check: The async callable to run on each readiness run.
            critical: Whether its failure makes the service ``fail`` (503).
            timeout: Seconds it may take; ``check_timeout`` by default.
            component_type: ``"datastore"``, ``"system"``, ...; the built-in checks set their own,
                others default to ``"component"``.

        Raises:
            ValueError: When the name is empty, holds a ``:`` or is taken, or the timeout is not
                positive.
        """
        if not name or ":" in name:
            msg = f"Health check names must be non-empty and hold no ':', not {name!r}."
            raise ValueError(msg)
        if name in self._checks:
            msg = f"A health check named {name!r} is already registered; pick another name."
            raise ValueError(msg)
        kind = component_type or getattr(check, "component_type", None) or "component"
        limit = self.check_timeout if timeout is None else _positive("timeout", timeout)
        self._checks[name] = _Registered(name, check, critical, limit, kind)
        self._cached = None

    def add_result_listener(self, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(name, passed)`` after every run of every check.

        ``passed`` is false when the check failed or timed out (a non-critical check too).
        `Metrics.track_health` turns it into ``health_check_status{check}``.
        """
        self._result_listeners.append(listener)

    @property
    def started(self) -> bool:
        """Whether ``/startup`` passes."""
        return self._started

    def mark_started(self) -> None:
        """Declare start-up complete: ``/startup`` passes from now on."""
        self._started = True

    async def readiness(self) -> HealthReport:
        """Run the checks, or share a run under way, or reuse one younger than ``cache_ttl``."""
        cached = self._cached
        if cached is not None and self._clock() - cached[0] < self.cache_ttl:
            return cached[1]
        running = self._running
        if running is None:
            self._running = running = asyncio.create_task(self._run())
            running.add_done_callback(self._run_done)
        return await asyncio.shield(running)  # a probe that gives up leaves the run going

    def _run_done(self, _task: asyncio.Task[HealthReport]) -> None:
        self._running = None

    async def _run(self) -> HealthReport:
        checks = list(self._checks.values())
        tasks = [asyncio.create_task(self._measure(check)) for check in checks]
        if tasks:
            await asyncio.wait(tasks, timeout=self.deadline)
        entries: dict[str, list[ComponentReport]] = {}
        status: Status = "pass"
        for check, task in zip(checks, tasks, strict=True):
            entry = task.result() if task.done() else self._abandon(check, task)
            entries[f"{check.name}:responseTime"] = [entry]
            effect: Status = (
                "warn" if entry.status == "fail" and not check.critical else entry.status
            )
            status = max(status, effect, key=_SEVERITY.__getitem__)
        report = self._report(status, checks=entries)
        self._cached = (self._clock(), report)
        if status != "fail" and not self._manual_start:
            self._started = True
        return report

    def _abandon(self, check: _Registered, task: asyncio.Task[ComponentReport]) -> ComponentReport:
        task.cancel()  # still running at the deadline, perhaps deaf to cancellation: let it go
        self._stragglers.add(task)
        task.add_done_callback(self._stragglers.discard)
        self._note(check, "fail", TIMEOUT, None)
        return _entry(check, "fail", TIMEOUT, self.deadline)

    async def _measure(self, check: _Registered) -> ComponentReport:
        started = time.perf_counter()
        status, output, error = await judge(check.check, min(check.timeout, self.deadline))
        self._note(check, status, output, error)
        return _entry(check, status, output, time.perf_counter() - started)

    def _note(
        self, check: _Registered, status: Status, output: str | None, error: Exception | None
    ) -> None:
        """Tell the listeners; log a check that starts or stops failing, once per change."""
        for listener in self._result_listeners:
            listener(check.name, status != "fail")
        if status == "fail" and check.name not in self._failing:
            self._failing.add(check.name)
            logger.warning("Health check %r failed (%s).", check.name, output, exc_info=error)
        elif status != "fail" and check.name in self._failing:
            self._failing.discard(check.name)
            logger.info("Health check %r recovered.", check.name)

    def router(
        self,
        *,
        prefix: str = "/health",
        include_in_schema: bool = True,
        tags: Sequence[str] = ("health",),
    ) -> APIRouter:
        """Return an `APIRouter` serving ``/live``, ``/ready`` and ``/startup`` under ``prefix``."""
        router = APIRouter(prefix=prefix, tags=[*tags], include_in_schema=include_in_schema)
        _add_probe(router, "live", self._live, _LIVE, {})
        _add_probe(router, "ready", self._ready, _READY, _UNHEALTHY)
        _add_probe(router, "startup", self._startup, _STARTUP, _UNHEALTHY)
        return router

    def install(
        self, app: FastAPI, *, prefix: str = "/health", include_in_schema: bool = True
    ) -> None:
        """Include the routes of `router` in ``app``."""
        app.include_router(self.router(prefix=prefix, include_in_schema=include_in_schema))

    def _report(
        self,
        status: Status,
        *,
        output: str | None = None,
        checks: dict[str, list[ComponentReport]] | None = None,
    ) -> HealthReport:
        return HealthReport(
            status=status,
            version=self.version,
            service_id=self.service_id,
            description=self.description,
            output=output,
            checks=checks,
        )

    async def _live(self) -> HealthResponse:
        return HealthResponse(self._report("pass"))

    async def _ready(self) -> HealthResponse:
        return HealthResponse(await self.readiness())

    async def _startup(self) -> HealthResponse:
        if not self._started and not self._manual_start:
            await self.readiness()
        if self._started:
            return HealthResponse(self._report("pass"))
        return HealthResponse(self._report("fail", output="starting"))


_LIVE = "Liveness: the process answers; no dependency is checked"
_READY = "Readiness: the critical dependencies answer"
_STARTUP = "Startup: the service has finished starting"
_UNHEALTHY: dict[int | str, dict[str, Any]] = {503: {"model": HealthReport, "description": "Fail"}}


def _add_probe(
    router: APIRouter,
    probe: str,
    endpoint: Callable[[], Awaitable[HealthResponse]],
    summary: str,
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """Add ``GET /<probe>``, answering a `HealthReport` as ``application/health+json``."""
    router.add_api_route(
        f"/{probe}",
        endpoint,
        methods=["GET"],
        name=f"health_{probe}",
        summary=summary,
        status_code=200,
        response_class=HealthResponse,
        response_model=HealthReport,
        response_description="Pass, or warn",
        responses=responses,
    )


def _entry(
    check: _Registered, status: Status, output: str | None, seconds: float
) -> ComponentReport:
    return ComponentReport(
        component_type=check.component_type,
        status=status,
        observed_value=round(seconds * 1000, 3),
        time=datetime.now(UTC),
        output=output,
    )
