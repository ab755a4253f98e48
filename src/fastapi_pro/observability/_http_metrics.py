"""The request metrics' storage: lock-free in one process, prometheus-client's files across several.

Every request updates three histograms and a gauge. prometheus-client takes a lock for each
bucket and sum it touches (eight per request); the middleware only updates them from the event
loop's thread, so in a single process plain Python lists do the same job for a fraction of the
cost and are exposed through a collector. In multiprocess mode the values must live in
prometheus-client's memory-mapped files, so its own metric classes are used.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

LABELS = ("http_request_method", "http_route", "http_response_status_code")
"""Labels of the request metrics (semantic-convention attribute names)."""

DURATION = (
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests, until the last byte of the response.",
)
REQUEST_SIZE = ("http_server_request_body_size_bytes", "Size of HTTP request bodies as received.")
RESPONSE_SIZE = ("http_server_response_body_size_bytes", "Size of HTTP response bodies as sent.")
ACTIVE = ("http_server_active_requests", "HTTP server requests in progress.")


class HttpMetrics(Protocol):
    """What the middleware records per request."""

    def started(self, method: str) -> None:
        """A request began."""
        ...

    def finished(
        self,
        labels: tuple[str, str, str],
        duration: float,
        request_bytes: int,
        response_bytes: int,
        trace_id: str | None,
    ) -> None:
        """A request ended; ``labels`` are method, route and status."""
        ...


class _Histogram:
    """Counts per bucket (not cumulative) and a sum, per label set, plus the latest exemplars."""

    __slots__ = ("bounds", "documentation", "exemplars", "name", "series")

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.series: dict[tuple[str, ...], list[float]] = {}
        self.exemplars: dict[tuple[tuple[str, ...], int], Exemplar] = {}

    def observe(self, labels: tuple[str, ...], value: float, trace_id: str | None = None) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds) + 2)  # buckets, +Inf, sum
        index = bisect_left(self.bounds, value)
        series[index] += 1
        series[-1] += value
        if trace_id is not None:
            self.exemplars[(labels, index)] = Exemplar({"trace_id": trace_id}, value, time.time())

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=LABELS)
        bounds = [*(_format(b) for b in self.bounds), "+Inf"]
        for labels, series in self.series.items():
            buckets: list[Any] = []
            running = 0.0
            for index, bound in enumerate(bounds):
                running += series[index]
                exemplar = self.exemplars.get((labels, index))
                buckets.append((bound, running, exemplar) if exemplar else (bound, running))
            family.add_metric(list(labels), buckets, sum_value=series[-1])
        return family


def _format(bound: float) -> str:
    return repr(bound)


class LocalHttpMetrics(Collector):
    """The request metrics of a single process, updated without locks from the event loop."""

    def __init__(self, duration_buckets: Sequence[float], size_buckets: Sequence[float]) -> None:
        self.duration = _Histogram(*DURATION, duration_buckets)
        self.request_size = _Histogram(*REQUEST_SIZE, size_buckets)
        self.response_size = _Histogram(*RESPONSE_SIZE, size_buckets)
        self.active: dict[str, int] = {}

    def started(self, method: str) -> None:
        """See `HttpMetrics.started`."""
        self.active[method] = self.active.get(method, 0) + 1

    def finished(
        self,
        labels: tuple[str, str, str],
        duration: float,
        request_bytes: int,
        response_bytes: int,
        trace_id: str | None,
    ) -> None:
        """See `HttpMetrics.finished`."""
        self.duration.observe(labels, duration, trace_id)
        self.request_size.observe(labels, request_bytes)
        self.response_size.observe(labels, response_bytes)
        self.active[labels[0]] -= 1

    def collect(self) -> Iterator[Metric]:
        """Expose the current values (called by the registry at scrape time)."""
        yield self.duration.collect()
        active = GaugeMetricFamily(*ACTIVE, labels=["http_request_method"])
        for method, count in self.active.items():
            active.add_metric([method], count)
        yield active
        yield self.request_size.collect()
        yield self.response_size.collect()


class SharedHttpMetrics:
    """The request metrics in prometheus-client's multiprocess files (no exemplars there)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        duration_buckets: Sequence[float],
        size_buckets: Sequence[float],
    ) -> None:
        self.duration = Histogram(*DURATION, LABELS, registry=registry, buckets=duration_buckets)
        self.request_size = Histogram(
            *REQUEST_SIZE, LABELS, registry=registry, buckets=size_buckets
        )
        self.response_size = Histogram(
            *RESPONSE_SIZE, LABELS, registry=registry, buckets=size_buckets
        )
        self.active = Gauge(
            *ACTIVE, ("http_request_method",), registry=registry, multiprocess_mode="livesum"
        )

    def started(self, method: str) -> None:
        """See `HttpMetrics.started`."""
        self.active.labels(method).inc()

    def finished(
        self,
        labels: tuple[str, str, str],
        duration: float,
        request_bytes: int,
        response_bytes: int,
        trace_id: str | None,
    ) -> None:
        """See `HttpMetrics.finished`."""
        self.duration.labels(*labels).observe(duration)
        self.request_size.labels(*labels).observe(request_bytes)
        self.response_size.labels(*labels).observe(response_bytes)
        self.active.labels(labels[0]).dec()
