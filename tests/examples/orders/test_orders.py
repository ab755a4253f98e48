from __future__ import annotations

from typing import Any

import httpx
import pytest

from examples.orders.modules.orders.models import OrderStatus
from examples.orders.modules.users.models import User
from fastapi_pro.testing import CapturedMetrics, assert_problem
from tests.examples.orders.helpers import HeadersFor, OrderFactory, ProductFactory

STATES = list(OrderStatus)
ACTIONS = ["pay", "cancel", "ship", "deliver", "refund"]

# The life cycle, written out independently of the code: (from, action) -> to.
ALLOWED = {
    ("pending", "pay"): "paid",
    ("pending", "cancel"): "cancelled",
    ("paid", "ship"): "shipped",
    ("paid", "refund"): "refunded",
    ("shipped", "deliver"): "delivered",
    ("delivered", "refund"): "refunded",
}
ALLOWED_CASES = [
    pytest.param(start, action, end, id=f"{start}-{action}")
    for (start, action), end in ALLOWED.items()
]
REFUSED_CASES = [
    pytest.param(start, action, id=f"{start}-{action}")
    for start in STATES
    for action in ACTIONS
    if (start, action) not in ALLOWED
]
STAFF_ACTIONS = ["ship", "deliver", "refund"]


@pytest.fixture
def actor_headers(
    customer: User, staff: User, headers_for: HeadersFor
) -> dict[str, dict[str, str]]:
    """Who performs each action in the state-machine tests: the owner pays and cancels."""
    owner, crew = headers_for(customer), headers_for(staff)
    return {"pay": owner, "cancel": owner, "ship": crew, "deliver": crew, "refund": crew}


# -- placing orders ------------------------------------------------------------------------------


async def test_an_order_captures_each_products_price_at_order_time(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    mug = await make_product(name="Mug", price_cents=1200)
    tee = await make_product(name="Tee", price_cents=2500)
    placed = await fastapi_client.post(
        "/orders",
        json={
            "lines": [{"product_id": mug.id, "quantity": 3}, {"product_id": tee.id, "quantity": 1}]
        },
        headers=headers_for(customer),
    )
    await fastapi_client.patch(
        f"/products/{mug.id}", json={"version": 1, "price_cents": 9999}, headers=headers_for(staff)
    )

    read = await fastapi_client.get(f"/orders/{placed.json()['id']}", headers=headers_for(customer))

    assert placed.status_code == 201
    assert read.json()["status"] == "pending"
    assert read.json()["customer_id"] == customer.id
    assert read.json()["total_cents"] == 3 * 1200 + 2500
    assert read.json()["lines"] == [
        {"product_id": mug.id, "product_name": "Mug", "quantity": 3, "unit_price_cents": 1200},
        {"product_id": tee.id, "product_name": "Tee", "quantity": 1, "unit_price_cents": 2500},
    ]


async def test_ordering_a_deleted_or_unknown_product_is_a_422_problem(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    retired = await make_product()
    await fastapi_client.delete(f"/products/{retired.id}", headers=headers_for(staff))

    response = await fastapi_client.post(
        "/orders",
        json={
            "lines": [
                {"product_id": retired.id, "quantity": 1},
                {"product_id": 10**9, "quantity": 1},
            ]
        },
        headers=headers_for(customer),
    )

    assert_problem(response, 422, code="unknown_product", product_ids=[retired.id, 10**9])


async def test_a_product_on_two_lines_is_a_422_problem(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()
    line = {"product_id": product.id, "quantity": 1}

    response = await fastapi_client.post(
        "/orders", json={"lines": [line, line]}, headers=headers_for(customer)
    )

    assert_problem(response, 422)


async def test_staff_do_not_place_orders(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()

    response = await fastapi_client.post(
        "/orders",
        json={"lines": [{"product_id": product.id, "quantity": 1}]},
        headers=headers_for(staff),
    )

    assert_problem(response, 403, code="insufficient_scope", required=["role:customer"])


# -- the state machine ---------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "action", "end"), ALLOWED_CASES)
async def test_an_allowed_transition_moves_the_order(
    *,
    fastapi_client: httpx.AsyncClient,
    customer: User,
    make_order: OrderFactory,
    actor_headers: dict[str, dict[str, str]],
    start: str,
    action: str,
    end: str,
) -> None:
    order = await make_order(customer, OrderStatus(start))

    response = await fastapi_client.post(
        f"/orders/{order.id}/{action}", headers=actor_headers[action]
    )

    assert response.status_code == 200
    assert response.json()["status"] == end
    assert response.json()["version"] == order.version + 1
    assert len(response.json()["lines"]) == 1


@pytest.mark.parametrize(("start", "action"), REFUSED_CASES)
async def test_a_refused_transition_is_a_409_problem_naming_the_current_state(
    *,
    fastapi_client: httpx.AsyncClient,
    customer: User,
    make_order: OrderFactory,
    actor_headers: dict[str, dict[str, str]],
    start: str,
    action: str,
) -> None:
    order = await make_order(customer, OrderStatus(start))

    response = await fastapi_client.post(
        f"/orders/{order.id}/{action}", headers=actor_headers[action]
    )
    after = await fastapi_client.get(f"/orders/{order.id}", headers=actor_headers["pay"])

    problem = assert_problem(
        response, 409, code="invalid_transition", current_status=start, action=action
    )
    assert start in problem["detail"]
    assert after.json()["status"] == start


async def test_a_whole_life_cycle_through_the_api(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()
    placed = await fastapi_client.post(
        "/orders",
        json={"lines": [{"product_id": product.id, "quantity": 1}]},
        headers=headers_for(customer),
    )
    url = f"/orders/{placed.json()['id']}"

    steps = [
        await fastapi_client.post(f"{url}/pay", headers=headers_for(customer)),
        await fastapi_client.post(f"{url}/ship", headers=headers_for(staff)),
        await fastapi_client.post(f"{url}/deliver", headers=headers_for(staff)),
        await fastapi_client.post(f"{url}/refund", headers=headers_for(staff)),
    ]

    assert [step.json()["status"] for step in steps] == ["paid", "shipped", "delivered", "refunded"]
    assert [step.json()["version"] for step in steps] == [2, 3, 4, 5]


async def test_staff_may_cancel_a_customers_pending_order(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
) -> None:
    order = await make_order(customer)

    response = await fastapi_client.post(f"/orders/{order.id}/cancel", headers=headers_for(staff))

    assert response.json()["status"] == "cancelled"


# -- who may do what -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", STAFF_ACTIONS)
async def test_customers_may_not_ship_deliver_or_refund(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
    action: str,
) -> None:
    order = await make_order(customer, OrderStatus.PAID)

    response = await fastapi_client.post(
        f"/orders/{order.id}/{action}", headers=headers_for(customer)
    )

    assert_problem(response, 403, code="insufficient_scope", required=["role:staff"])


async def test_staff_may_not_pay_for_a_customer(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
) -> None:
    order = await make_order(customer)

    response = await fastapi_client.post(f"/orders/{order.id}/pay", headers=headers_for(staff))

    assert_problem(response, 403, code="insufficient_scope", required=["role:customer"])


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", "/pay"), ("POST", "/cancel")])
async def test_another_customers_order_is_a_404_as_if_it_did_not_exist(
    *,
    fastapi_client: httpx.AsyncClient,
    customer: User,
    other_customer: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
    method: str,
    suffix: str,
) -> None:
    theirs = await make_order(other_customer)

    response = await fastapi_client.request(
        method, f"/orders/{theirs.id}{suffix}", headers=headers_for(customer)
    )
    missing = await fastapi_client.request(
        method, f"/orders/{10**9}{suffix}", headers=headers_for(customer)
    )
    after = await fastapi_client.get(f"/orders/{theirs.id}", headers=headers_for(other_customer))

    assert_problem(response, 404, code="not_found")
    assert response.json()["detail"] == f"Order {theirs.id} does not exist."
    assert_problem(missing, 404, code="not_found")
    assert after.json()["status"] == "pending"


async def test_customers_list_only_their_own_orders_and_staff_list_all(
    *,
    fastapi_client: httpx.AsyncClient,
    customer: User,
    other_customer: User,
    staff: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
) -> None:
    mine = await make_order(customer)
    theirs = await make_order(other_customer)

    as_customer = await fastapi_client.get("/orders", headers=headers_for(customer))
    as_staff = await fastapi_client.get("/orders?sort=created_at", headers=headers_for(staff))

    assert [o["id"] for o in as_customer.json()["items"]] == [mine.id]
    assert [o["id"] for o in as_staff.json()["items"]] == [mine.id, theirs.id]


async def test_orders_are_filtered_by_status(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
) -> None:
    await make_order(customer, OrderStatus.PENDING)
    paid = await make_order(customer, OrderStatus.PAID)

    response = await fastapi_client.get("/orders?status=paid", headers=headers_for(customer))

    assert [o["id"] for o in response.json()["items"]] == [paid.id]
    assert response.json()["total"] == 1


async def test_listing_orders_costs_the_same_queries_for_one_order_or_many(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
    assert_max_queries: Any,
) -> None:
    for _ in range(5):
        await make_order(customer)
    headers = headers_for(customer)

    with assert_max_queries(3):  # the account, the page with its total, the lines of the page
        response = await fastapi_client.get("/orders", headers=headers)

    assert len(response.json()["items"]) == 5


async def test_transitions_are_measured_by_route_template(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_order: OrderFactory,
    captured_metrics: CapturedMetrics,
) -> None:
    order = await make_order(customer)

    await fastapi_client.post(f"/orders/{order.id}/pay", headers=headers_for(customer))

    requests = captured_metrics.value(
        "http_server_request_duration_seconds_count", http_route="/orders/{order_id}/pay"
    )
    assert requests == 1
