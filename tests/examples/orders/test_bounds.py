"""Numbers beyond what the database columns hold are 422 problems, never 500s.

Ids are BIGINT on PostgreSQL and 64-bit INTEGER on SQLite; a larger number used to reach the
driver and fail there (OverflowError on SQLite, "value out of int64 range" on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from examples.orders.modules.users.models import User
from fastapi_pro.testing import assert_problem
from tests.examples.orders.helpers import Headers, HeadersFor, ProductFactory

BEYOND_INT64 = [
    pytest.param(2**64, id="2**64"),
    pytest.param(2**63, id="2**63"),
    pytest.param(2**53, id="2**53, beyond exact JSON numbers"),
]
MAX_PRICE_CENTS = 100_000_000


@pytest.mark.parametrize("order_id", BEYOND_INT64)
@pytest.mark.parametrize(
    ("method", "suffix", "role"),
    [
        ("GET", "", "customer"),
        ("POST", "/pay", "customer"),
        ("POST", "/cancel", "customer"),
        ("POST", "/ship", "staff"),
        ("POST", "/deliver", "staff"),
        ("POST", "/refund", "staff"),
    ],
)
async def test_an_order_id_beyond_int64_is_a_422_problem(
    *,
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    order_id: int,
    method: str,
    suffix: str,
    role: str,
) -> None:
    caller = customer if role == "customer" else staff

    response = await fastapi_client.request(
        method, f"/orders/{order_id}{suffix}", headers=headers_for(caller)
    )

    problem = assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in problem["errors"]] == ["#/path/order_id"]


@pytest.mark.parametrize("product_id", BEYOND_INT64)
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("GET", None),
        ("PATCH", {"version": 1, "name": "Renamed"}),
        ("DELETE", None),
    ],
)
async def test_a_product_id_beyond_int64_is_a_422_problem(
    *,
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    product_id: int,
    method: str,
    body: dict[str, object] | None,
) -> None:
    response = await fastapi_client.request(
        method, f"/products/{product_id}", json=body, headers=headers_for(staff)
    )

    problem = assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in problem["errors"]] == ["#/path/product_id"]


@pytest.mark.parametrize("product_id", BEYOND_INT64)
async def test_ordering_a_product_id_beyond_int64_is_a_422_problem(
    fastapi_client: httpx.AsyncClient, customer: User, headers_for: HeadersFor, product_id: int
) -> None:
    response = await fastapi_client.post(
        "/orders",
        json={"lines": [{"product_id": product_id, "quantity": 1}]},
        headers=headers_for(customer),
    )

    problem = assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in problem["errors"]] == ["#/body/lines/0/product_id"]


@pytest.mark.parametrize("quantity", [1001, 2**31, 2**64])
async def test_an_oversized_quantity_is_a_422_problem(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
    quantity: int,
) -> None:
    product = await make_product()

    response = await fastapi_client.post(
        "/orders",
        json={"lines": [{"product_id": product.id, "quantity": quantity}]},
        headers=headers_for(customer),
    )

    problem = assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in problem["errors"]] == ["#/body/lines/0/quantity"]


@pytest.mark.parametrize("price_cents", [MAX_PRICE_CENTS + 1, 2**31, 2**63, 2**64])
async def test_an_oversized_price_is_a_422_problem_on_create_and_update(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
    price_cents: int,
) -> None:
    product = await make_product()

    created = await fastapi_client.post(
        "/products",
        json={"sku": f"BIG-{price_cents}", "name": "Too dear", "price_cents": price_cents},
        headers=headers_for(staff),
    )
    updated = await fastapi_client.patch(
        f"/products/{product.id}",
        json={"version": 1, "price_cents": price_cents},
        headers=headers_for(staff),
    )

    for response in (created, updated):
        problem = assert_problem(response, 422, code="validation_failed")
        assert [error["pointer"] for error in problem["errors"]] == ["#/body/price_cents"]


@pytest.mark.parametrize("version", [2**31, 2**63, 2**64])
async def test_a_version_beyond_the_version_column_is_a_422_problem(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
    version: int,
) -> None:
    product = await make_product()

    response = await fastapi_client.patch(
        f"/products/{product.id}",
        json={"version": version, "name": "Renamed"},
        headers=headers_for(staff),
    )

    problem = assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in problem["errors"]] == ["#/body/version"]


@pytest.mark.parametrize(
    "quantity",
    [
        pytest.param(22, id="total-beyond-int32"),
        pytest.param(1000, id="largest-line"),
    ],
)
async def test_the_largest_allowed_prices_and_quantities_make_an_order(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    quantity: int,
) -> None:
    created = await fastapi_client.post(
        "/products",
        json={"sku": f"DEAR-{quantity}", "name": "Dear", "price_cents": MAX_PRICE_CENTS},
        headers=headers_for(staff),
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]

    placed = await fastapi_client.post(
        "/orders",
        json={"lines": [{"product_id": product_id, "quantity": quantity}]},
        headers=headers_for(customer),
    )
    assert placed.status_code == 201, placed.text
    read = await fastapi_client.get(f"/orders/{placed.json()['id']}", headers=headers_for(customer))

    assert placed.json()["total_cents"] == quantity * MAX_PRICE_CENTS
    assert read.json()["total_cents"] == quantity * MAX_PRICE_CENTS
    assert read.json()["lines"][0]["unit_price_cents"] == MAX_PRICE_CENTS


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(str(2**64), id="2**64"),
        pytest.param(str(2**63), id="2**63"),
        pytest.param("0", id="zero"),
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("9" * 5000, id="beyond-int-parsing"),
    ],
)
async def test_a_token_whose_subject_is_no_user_id_is_a_401_problem(
    fastapi_client: httpx.AsyncClient, auth_headers: Callable[..., Headers], subject: str
) -> None:
    response = await fastapi_client.get("/users/me", headers=auth_headers(subject))

    assert_problem(response, 401, code="invalid_token")
