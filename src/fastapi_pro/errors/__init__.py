"""Typed application errors rendered as RFC 9457 problem details.

```python
from fastapi import FastAPI
from fastapi_pro.errors import NotFoundError, install_error_handlers

app = FastAPI()
install_error_handlers(app)


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> dict[str, int]:
    raise NotFoundError(f"Order {order_id} does not exist.")
```
"""

from fastapi_pro.errors._declared import declare_problems
from fastapi_pro.errors._echo import quote_input
from fastapi_pro.errors._exceptions import (
    DEFAULT_CHALLENGE,
    AppError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from fastapi_pro.errors._handlers import install_error_handlers
from fastapi_pro.errors._openapi import (
    document_declared_problems,
    problem_responses,
    rewrite_openapi,
)
from fastapi_pro.errors._problem import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetail,
    ProblemResponse,
    ValidationErrorItem,
    ValidationProblemDetail,
)
from fastapi_pro.errors._render import (
    ErrorRenderer,
    Problem,
    ProblemDetailsRenderer,
    renderer_of,
)
from fastapi_pro.errors._renderers import (
    DetailBody,
    DetailErrorItem,
    DetailValidationBody,
    FastAPIDetailRenderer,
    FieldErrorsBody,
    FieldErrorsRenderer,
    dotted_field,
)
from fastapi_pro.errors._validation import FieldError

__all__ = [
    "DEFAULT_CHALLENGE",
    "PROBLEM_MEDIA_TYPE",
    "AppError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DetailBody",
    "DetailErrorItem",
    "DetailValidationBody",
    "ErrorRenderer",
    "FastAPIDetailRenderer",
    "FieldError",
    "FieldErrorsBody",
    "FieldErrorsRenderer",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "Problem",
    "ProblemDetail",
    "ProblemDetailsRenderer",
    "ProblemResponse",
    "RateLimitedError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "ValidationErrorItem",
    "ValidationProblemDetail",
    "declare_problems",
    "document_declared_problems",
    "dotted_field",
    "install_error_handlers",
    "problem_responses",
    "quote_input",
    "renderer_of",
    "rewrite_openapi",
]
