"""Static checks of the public types: mypy must accept this file (it is never run)."""

from typing import Any, assert_type

from fastapi_pro import Settings
from fastapi_pro.errors import NotFoundError, ProblemDetail, problem_responses, quote_input

error = NotFoundError("gone", extensions={"id": 1})
assert_type(error.status, int)
assert_type(error.code, str)
assert_type(error.detail, str | None)
assert_type(error.headers, dict[str, str])
assert_type(problem_responses(NotFoundError), dict[int | str, dict[str, Any]])
assert_type(ProblemDetail.model_validate({}).code, str)
assert_type(Settings().database.pool_size, int)
assert_type(quote_input("colour"), str)
assert_type(quote_input(42, limit=10), str)
assert_type(Settings().max_body_size, int | None)
