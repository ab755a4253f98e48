"""Health checks and the Kubernetes liveness, readiness and startup probes.

```python
from fastapi import FastAPI
from fastapi_pro.db import Database
from fastapi_pro.health import Health, database_check

db = Database()
app = FastAPI(lifespan=db.lifespan)
health = Health(version="1.4.2")
health.add("database", database_check(db))
health.install(app)  # GET /health/live, /health/ready and /health/startup
```

Bodies follow the draft "Health Check Response Format for HTTP APIs"
(draft-inadarei-api-health-check) and are served as ``application/health+json``.
"""

from fastapi_pro.health._checks import (
    Check,
    CheckResult,
    SupportsPing,
    database_check,
    redis_check,
)
from fastapi_pro.health._health import Health
from fastapi_pro.health._report import (
    HEALTH_MEDIA_TYPE,
    ComponentReport,
    HealthReport,
    HealthResponse,
    Status,
)

__all__ = [
    "HEALTH_MEDIA_TYPE",
    "Check",
    "CheckResult",
    "ComponentReport",
    "Health",
    "HealthReport",
    "HealthResponse",
    "Status",
    "SupportsPing",
    "database_check",
    "redis_check",
]
