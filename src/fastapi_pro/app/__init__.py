"""`setup`: every fastapi-pro block on a plain `FastAPI()` app, from `Settings`, in one call.

```python
from fastapi import FastAPI
from fastapi_pro import setup

app = FastAPI()
components = setup(app)  # Settings() from FASTAPI_PRO_* variables
```

A request passes, outermost first: the observability middleware (request id, metrics, span,
access line), the security headers, CORS, then Starlette's own stack, whose error middleware
renders unhandled exceptions through the problem-details handlers. Every layer that adds
headers wraps Starlette's error middleware, so unhandled 500s carry them too.
"""

from fastapi_pro.app._components import Components
from fastapi_pro.app._setup import setup
from fastapi_pro.app._switches import Switches

__all__ = ["Components", "Switches", "setup"]
