"""Idempotency keys whose records commit in the request's own transaction.

```python
from fastapi import FastAPI
from fastapi_pro.db import Base
from fastapi_pro.idempotency import IdempotentRoute, idempotency_table, idempotent

records = idempotency_table(Base.metadata)
app = FastAPI()
app.router.route_class = IdempotentRoute


@app.post("/orders", status_code=201, dependencies=[idempotent(records, required=True)])
async def create_order() -> dict[str, str]:
    return {"status": "created"}
```
"""

from fastapi_pro.idempotency._dependency import (
    REPLAY_HEADERS,
    Idempotency,
    IdempotencyNotInstalledError,
    IdempotencyOptions,
    Identify,
    check_idempotent_routes,
    idempotent,
)
from fastapi_pro.idempotency._errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyMissingError,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
)
from fastapi_pro.idempotency._key import fingerprint, parse_key
from fastapi_pro.idempotency._records import (
    DEFAULT_TABLE,
    create_idempotency_table,
    idempotency_table,
    purge_expired,
)
from fastapi_pro.idempotency._route import IdempotentRoute

__all__ = [
    "DEFAULT_TABLE",
    "REPLAY_HEADERS",
    "Idempotency",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyMissingError",
    "IdempotencyKeyReusedError",
    "IdempotencyNotInstalledError",
    "IdempotencyOptions",
    "IdempotentRoute",
    "Identify",
    "InvalidIdempotencyKeyError",
    "check_idempotent_routes",
    "create_idempotency_table",
    "fingerprint",
    "idempotency_table",
    "idempotent",
    "parse_key",
    "purge_expired",
]
