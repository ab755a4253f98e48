"""Observability: one pure-ASGI middleware, loguru logging, Prometheus metrics, OTel tracing.

```python
from fastapi_pro.observability import Metrics, configure_logging, configure_tracing
from fastapi_pro.observability import install_observability

configure_logging(json_lines=True)
metrics = Metrics()
tracing = configure_tracing(service_name="orders")
install_observability(app, metrics=metrics, tracer_provider=tracing)
app.include_router(metrics.router())
```
"""

from fastapi_pro.observability._http_metrics import LABELS, HttpMetrics
from fastapi_pro.observability._install import install_observability
from fastapi_pro.observability._logging import (
    CONTEXT_KEYS,
    InterceptHandler,
    access_log_through_loguru,
    add_log_context,
    configure_logging,
    json_sink,
    write_access_log,
)
from fastapi_pro.observability._metrics import (
    DURATION_BUCKETS,
    SIZE_BUCKETS,
    Metrics,
    normalize_method,
)
from fastapi_pro.observability._middleware import (
    DEFAULT_SKIP_PATHS,
    REQUEST_ID_ATTRIBUTE,
    ObservabilityMiddleware,
)
from fastapi_pro.observability._routes import UNMATCHED, RouteTemplates
from fastapi_pro.observability._spans import GLOBAL, tracer_provider_of
from fastapi_pro.observability._tracing import configure_tracing, instrument_database

__all__ = [
    "CONTEXT_KEYS",
    "DEFAULT_SKIP_PATHS",
    "DURATION_BUCKETS",
    "GLOBAL",
    "LABELS",
    "REQUEST_ID_ATTRIBUTE",
    "SIZE_BUCKETS",
    "UNMATCHED",
    "HttpMetrics",
    "InterceptHandler",
    "Metrics",
    "ObservabilityMiddleware",
    "RouteTemplates",
    "access_log_through_loguru",
    "add_log_context",
    "configure_logging",
    "configure_tracing",
    "install_observability",
    "instrument_database",
    "json_sink",
    "normalize_method",
    "tracer_provider_of",
    "write_access_log",
]
