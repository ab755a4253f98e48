"""`Metrics`: Prometheus metrics owned by one app, and the ``/metrics`` route."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fastapi_pro._shared.state import AppSlot
from fastapi_pro.errors import AuthenticationError, PermissionDeniedError
from fastapi_pro.observability._http_metrics import (
    HttpMetrics,
    LocalHttpMetrics,
    SharedHttpMetrics,
)
from fastapi_pro.observability._pool_metrics import PoolCollector, PoolMetrics
from fastapi_pro.settings import Settings

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""The advisory buckets of ``http.server.request.duration`` in the semantic conventions."""
SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
"""Buckets for request and response body sizes, in bytes."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def normalize_method(method: str) -> str:
    """Map unknown HTTP methods to ``_OTHER``, so they cannot grow the label set."""
    return method if method in _KNOWN_METHODS else "_OTHER"


class _FailureSource(Protocol):
    def add_failure_listener(self, listener: Callable[[str], None]) -> None: ...


class _ResultSource(Protocol):
    def add_result_listener(self, listener: Callable[[str, bool], None]) -> None: ...


def _check_multiprocess_environment(directory: str) -> None:
    """Refuse multiprocess mode that prometheus-client did not enable: samples would be lost.

    prometheus-client picks its storage once, at import, from the process environment; a
    ``PROMETHEUS_MULTIPROC_DIR`` read from a ``.env`` file (or set later) never reaches it.
    """
    from prometheus_client import values  # noqa: PLC0415 - only in multiprocess mode

    # prometheus-client still honours the old lower-case spelling.
    exported = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(
        "prometheus_multiproc_dir"  # noqa: SIM112 - the legacy spelling, on purpose
    )
    enabled = getattr(values.ValueClass, "_multiprocess", False)
    if not enabled or exported is None or Path(exported).resolve() != Path(directory).resolve():
        msg = (
            f"Multiprocess metrics in {directory!r} need PROMETHEUS_MULTIPROC_DIR={directory} "
            "in the process environment before the process starts (prometheus-client reads it "
            "once, at import; a .env file is read too late). Export it in the shell, the "
            "container or the service manager."
        )
        raise RuntimeError(msg)


def _auth_failures(registry: CollectorRegistry) -> Counter:
    return Counter(
        "auth_failures",
        "Requests refused by authentication or authorisation, by problem code.",
        ("reason",),
        registry=registry,
    )


def _health_status(registry: CollectorRegistry) -> Gauge:
    return Gauge(
        "health_check_status",
        "1 if the check passed on its last run, 0 if it failed.",
        ("check",),
        registry=registry,
        multiprocess_mode="livemin",  # see Metrics.track_health
    )


class Metrics:
    """The Prometheus metrics of one app, in a registry of their own.

    ``metrics.http`` records the request metrics the middleware measures (see
    `install_observability`); `counter`, `gauge` and `histogram` make the app's own.

    Two apps (or two tests) never share samples. With ``multiprocess_dir`` (the directory in
    ``PROMETHEUS_MULTIPROC_DIR``, which must be set before the workers start), samples of every
    worker process are aggregated at scrape time.

    Args:
        namespace: Prefix for the app metrics made with `counter`, `gauge` and `histogram`.
        duration_buckets: Buckets of ``http_server_request_duration_seconds``.
        size_buckets: Buckets of the body-size histograms.
        multiprocess_dir: Aggregate the metrics of several worker processes.
    """

    def __init__(
        self,
        *,
        namespace: str = "",
        duration_buckets: Sequence[float] = DURATION_BUCKETS,
        size_buckets: Sequence[float] = SIZE_BUCKETS,
        multiprocess_dir: str | None = None,
    ) -> None:
        self.namespace = namespace
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        self.http: HttpMetrics
        if multiprocess_dir is None:
            local = LocalHttpMetrics(duration_buckets, size_buckets)
            self.registry.register(local)
            self.http = local
        else:
            _check_multiprocess_environment(multiprocess_dir)
            self.http = SharedHttpMetrics(self.registry, duration_buckets, size_buckets)
        self._pools: dict[str, Any] = {}
        if multiprocess_dir is None:  # else the pools write shared gauges (see PoolMetrics)
            self.registry.register(PoolCollector(self._pools))
        self._pool_metrics = PoolMetrics(self.registry, shared_gauges=multiprocess_dir is not None)
        self._auth_failures = _auth_failures(self.registry)
        self._health_status = _health_status(self.registry)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Metrics:
        """Build `Metrics`, in multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set."""
        return cls(multiprocess_dir=settings.prometheus_multiproc_dir, **options)

    @classmethod
    def of(cls, source: HTTPConnection | Starlette) -> Metrics:
        """Return the `Metrics` that `install_observability` records an app's requests into.

        Args:
            source: The app, or a request or websocket it serves.

        Raises:
            RuntimeError: When the app records no metrics.
        """
        return METRICS.get(source)

    def _name(self, name: str) -> str:
        return f"{self.namespace}_{name}" if self.namespace else name

    def counter(self, name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
        """Make an app counter in this registry (named with the namespace)."""
        return Counter(self._name(name), documentation, tuple(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Iterable[str] = ()) -> Gauge:
        """Make an app gauge in this registry (``livesum`` across worker processes)."""
        return Gauge(
            self._name(name),
            documentation,
            tuple(labels),
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Iterable[str] = (),
        buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> Histogram:
        """Make an app histogram in this registry."""
        return Histogram(
            self._name(name), documentation, tuple(labels), registry=self.registry, buckets=buckets
        )

    def track_database(self, database: Any, name: str = "default") -> None:
        """Report a `Database`'s pool as ``db_client_connection*`` metrics labelled ``name``.

        The ``db_client_connections_*`` gauges are read from the pool at scrape time (in
        multiprocess mode, written by each worker as its pool changes and summed over the live
        workers); ``db_client_connection_wait_time_seconds`` and
        ``db_client_connection_timeouts_total`` come from `Database.add_pool_listener`.
        """
        self._pools[name] = database.engine
        recorder = self._pool_metrics.recorder(name)
        recorder.changed(database.engine.pool)  # the sizes show before the first checkout
        database.add_pool_listener(recorder)

    def track_auth(self, auth: _FailureSource) -> None:
        """Count an `Auth`'s refusals in ``auth_failures_total{reason}``.

        ``reason`` is the problem code (``unauthorized``, ``invalid_token``, ``invalid_grant``,
        ``insufficient_scope``, ...): a fixed set, never anything the client sent.
        """
        failures = self._auth_failures
        auth.add_failure_listener(lambda reason: failures.labels(reason).inc())

    def track_health(self, health: _ResultSource) -> None:
        """Report each check of a `Health` in ``health_check_status{check}``: 1 pass, 0 fail.

        The value is the check's last run in this process. Under multiprocess mode every worker
        runs the checks of the probes it answers, and the gauge is ``livemin``: it shows 0
        while the last run of any live worker failed, so a dependency that one worker cannot
        reach is not hidden behind the workers that can. A recovery shows once every worker
        that saw the failure has run the check again (the next probes it answers).
        """
        status = self._health_status
        health.add_result_listener(
            lambda check, passed: status.labels(check).set(1 if passed else 0)
        )

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Return the exposition and its content type; OpenMetrics (with exemplars) if accepted."""
        registry = self.registry
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess  # noqa: PLC0415 - only in that mode

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        if "application/openmetrics-text" in accept:
            text: bytes = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
            return text, openmetrics.CONTENT_TYPE_LATEST
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def mark_process_dead(self, pid: int | None = None) -> None:
        """In multiprocess mode, drop a stopped worker's live gauges (call it at shutdown)."""
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess  # noqa: PLC0415 - only in that mode

            multiprocess.mark_process_dead(pid or os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]

    def router(
        self,
        path: str = "/metrics",
        *,
        token: str | None = None,
        allow: Iterable[str] = (),
        include_in_schema: bool = False,
    ) -> APIRouter:
        """The scrape endpoint; optionally protected by a bearer token and/or an address list.

        Args:
            path: Where Prometheus scrapes (the middleware skips it by default).
            token: Require ``Authorization: Bearer <token>``.
            allow: Client networks allowed to scrape (``"10.0.0.0/8"``, ``"127.0.0.1"``).
            include_in_schema: List the route in OpenAPI.
        """
        networks = [ipaddress.ip_network(network, strict=False) for network in allow]
        router = APIRouter()

        @router.get(path, include_in_schema=include_in_schema)
        async def metrics(request: Request) -> Response:
            if networks and not _address_allowed(request, networks):
                raise PermissionDeniedError("This address may not read the metrics.")
            if token is not None and not _bearer_matches(request, token):
                raise AuthenticationError("The metrics need a bearer token.")
            body, media_type = self.render(request.headers.get("accept", ""))
            return Response(body, media_type=media_type)

        return router


def _address_allowed(request: Request, networks: Iterable[_Network]) -> bool:
    """Whether the client's address is in one of ``networks`` (no address: never)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _bearer_matches(request: Request, token: str) -> bool:
    """Whether the request sends ``Authorization: Bearer <token>`` (compared in constant time)."""
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


METRICS: AppSlot[Metrics] = AppSlot(
    "fastapi_pro_metrics",
    Metrics,
    missing=(
        "This app records no metrics: give install_observability() a Metrics (or keep "
        "observability.metrics_enabled on for setup())."
    ),
)
"""The `Metrics` an app's requests are recorded into (put there by `install_observability`)."""
