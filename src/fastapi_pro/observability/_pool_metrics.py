"""The ``db_client_connection*`` metrics of a `Database`'s pool.

The gauges read the pool itself. In one process they are read at scrape time. Under
multiprocess mode a scrape is answered by one worker, which cannot read the other workers'
pools, so each worker writes its own readings into ``livesum`` gauges whenever its pool changes
(checkout, return, dispose) and the scrape adds the live workers' values up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)
"""Buckets of ``db_client_connection_wait_time_seconds``: a warm pool answers in microseconds."""

# pool method -> (gauge name, help)
_GAUGES = {
    "checkedout": ("db_client_connections_used", "Connections checked out."),
    "checkedin": ("db_client_connections_idle", "Idle connections in the pool."),
    "size": ("db_client_connections_max", "Connections the pool keeps."),
    "overflow": (
        "db_client_connections_overflow",
        "Connections open beyond the pool size (0 while the pool is not full).",
    ),
}


def _reading(attribute: str, value: float) -> float:
    """A pool reading as a gauge value.

    SQLAlchemy's ``overflow()`` counts down from ``-pool_size`` while the pool fills (and a
    failed connect lowers it too), so only what lies beyond the pool size is reported.
    """
    return float(max(0, value)) if attribute == "overflow" else float(value)


def _readings(pool: Any) -> Iterator[tuple[str, float]]:
    for attribute in _GAUGES:
        reader = getattr(pool, attribute, None)
        if callable(reader):
            yield attribute, _reading(attribute, reader())


class PoolCollector(Collector):
    """Reports the pools of `Database` engines at scrape time (one process)."""

    def __init__(self, engines: dict[str, Any]) -> None:
        self._engines = engines

    def collect(self) -> Iterator[Metric]:
        """Read every pool now; the engine's current one, as ``dispose()`` replaces it."""
        families = {
            attribute: GaugeMetricFamily(name, text, labels=["pool_name"])
            for attribute, (name, text) in _GAUGES.items()
        }
        for name, engine in self._engines.items():
            for attribute, reading in _readings(engine.pool):
                families[attribute].add_metric([name], reading)
        yield from families.values()


class PoolMetrics:
    """The checkout wait and timeouts of every pool, and, across processes, the pool gauges."""

    def __init__(self, registry: CollectorRegistry, *, shared_gauges: bool) -> None:
        self.wait = Histogram(
            "db_client_connection_wait_time_seconds",
            "Time to check a connection out of the pool, timed-out waits included.",
            ("pool_name",),
            registry=registry,
            buckets=WAIT_BUCKETS,
        )
        self.timeouts = Counter(
            "db_client_connection_timeouts",
            "Checkouts that found no connection within the pool timeout (answered with 503).",
            ("pool_name",),
            registry=registry,
        )
        self.gauges = [
            Gauge(name, text, ("pool_name",), registry=registry, multiprocess_mode="livesum")
            for name, text in (_GAUGES.values() if shared_gauges else ())
        ]

    def recorder(self, name: str) -> PoolRecorder:
        """A `fastapi_pro.db.PoolListener` recording into the series of pool ``name``."""
        gauges = tuple(gauge.labels(name) for gauge in self.gauges)
        return PoolRecorder(self.wait.labels(name), self.timeouts.labels(name), gauges)


class PoolRecorder:
    """Records one pool's checkouts; writes its gauges on every change when they are shared.

    A shared gauge is a write to a memory-mapped file (about 1.6 µs), so only the readings that
    differ from the last ones written are written: two per checkout, two per return.
    """

    __slots__ = ("_gauges", "_timeouts", "_wait", "_written")

    def __init__(self, wait: Histogram, timeouts: Counter, gauges: tuple[Gauge, ...]) -> None:
        self._wait = wait
        self._timeouts = timeouts
        self._gauges = gauges  # used, idle, max, overflow: the order of _GAUGES
        self._written: tuple[float, ...] = ()

    def checked_out(self, seconds: float) -> None:
        """See `fastapi_pro.db.PoolListener.checked_out`."""
        self._wait.observe(seconds)

    def timed_out(self, seconds: float) -> None:
        """See `fastapi_pro.db.PoolListener.timed_out`."""
        self._wait.observe(seconds)
        self._timeouts.inc()

    def changed(self, pool: Any) -> None:
        """See `fastapi_pro.db.PoolListener.changed`."""
        if not self._gauges:
            return
        try:
            readings = (pool.checkedout(), pool.checkedin(), pool.size(), max(0, pool.overflow()))
        except AttributeError:  # a pool that keeps no counts (StaticPool)
            return
        written = self._written or (None,) * len(readings)
        for gauge, reading, last in zip(self._gauges, readings, written, strict=True):
            if reading != last:
                gauge.set(reading)
        self._written = readings
