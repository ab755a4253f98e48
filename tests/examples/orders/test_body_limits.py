"""Request bodies are bounded: the default limit `setup` applies, and the login form's own."""

from __future__ import annotations

import httpx

from examples.orders.modules.users.models import User
from fastapi_pro.settings import DEFAULT_MAX_BODY_SIZE
from fastapi_pro.testing import assert_problem
from tests.examples.orders.helpers import HeadersFor, ProductFactory

TEN_MB = 10 * 1024 * 1024


async def test_a_10_mb_order_is_a_413_problem(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()
    line = f'{{"product_id": {product.id}, "quantity": 1}}'.encode()
    body = b'{"lines": [' + b", ".join([line] * (TEN_MB // len(line))) + b"]}"

    response = await fastapi_client.post(
        "/orders",
        content=body,
        headers={**headers_for(customer), "content-type": "application/json"},
    )

    problem = assert_problem(response, 413, code="content_too_large")
    assert str(DEFAULT_MAX_BODY_SIZE) in problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_the_login_form_still_refuses_bodies_past_its_own_limit(
    fastapi_client: httpx.AsyncClient,
) -> None:
    padding = "x" * 10_000
    form = {"content-type": "application/x-www-form-urlencoded"}

    over_form_limit = await fastapi_client.post(
        "/auth/token", content=f"username=a&password={padding}", headers=form
    )
    over_app_limit = await fastapi_client.post(
        "/auth/token", content="p=" + "x" * DEFAULT_MAX_BODY_SIZE, headers=form
    )

    assert_problem(over_form_limit, 400, code="invalid_request", error="invalid_request")
    assert_problem(over_app_limit, 413, code="content_too_large")
