"""Rate limits on routes, with the IETF ``RateLimit-Policy`` and ``RateLimit`` headers.

```python
from fastapi import Depends, FastAPI
from fastapi_pro.errors import install_error_handlers
from fastapi_pro.ratelimit import RateLimit, RateLimiter

app = FastAPI()
install_error_handlers(app)
RateLimiter().install(app)


@app.get("/search", dependencies=[Depends(RateLimit("10/second", "500/hour"))])
async def search(q: str) -> list[str]:
    return []
```
"""

from fastapi_pro._shared.routes import route_template
from fastapi_pro.ratelimit._dependency import RateLimit
from fastapi_pro.ratelimit._headers import RateLimitHeadersMiddleware
from fastapi_pro.ratelimit._keys import KeyFunc, TrustedProxies
from fastapi_pro.ratelimit._limiter import RateLimiter
from fastapi_pro.ratelimit._login import LoginLimits
from fastapi_pro.ratelimit._policy import Policy, Quota, parse_policy
from fastapi_pro.ratelimit._storage import STRATEGIES, memory_storage, redis_storage

__all__ = [
    "STRATEGIES",
    "KeyFunc",
    "LoginLimits",
    "Policy",
    "Quota",
    "RateLimit",
    "RateLimitHeadersMiddleware",
    "RateLimiter",
    "TrustedProxies",
    "memory_storage",
    "parse_policy",
    "redis_storage",
    "route_template",
]
