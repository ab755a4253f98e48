from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examples.orders.modules.products.models import Product
from examples.orders.modules.users.models import User
from fastapi_pro.testing import assert_problem
from tests.examples.orders.helpers import HeadersFor, ProductFactory


async def test_staff_create_a_product(
    fastapi_client: httpx.AsyncClient, staff: User, headers_for: HeadersFor
) -> None:
    response = await fastapi_client.post(
        "/products",
        json={"sku": "LAMP-1", "name": "Desk lamp", "price_cents": 3900},
        headers=headers_for(staff),
    )

    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert response.json()["price_cents"] == 3900


async def test_a_taken_sku_is_a_409_problem(
    fastapi_client: httpx.AsyncClient, staff: User, headers_for: HeadersFor
) -> None:
    body = {"sku": "DUP-1", "name": "Twice", "price_cents": 1}
    await fastapi_client.post("/products", json=body, headers=headers_for(staff))

    response = await fastapi_client.post("/products", json=body, headers=headers_for(staff))

    assert_problem(response, 409, code="unique_violation", fields=["sku"])


async def test_customers_may_not_create_change_or_delete_products(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()
    headers = headers_for(customer)

    created = await fastapi_client.post(
        "/products", json={"sku": "NO-1", "name": "No", "price_cents": 1}, headers=headers
    )
    changed = await fastapi_client.patch(
        f"/products/{product.id}", json={"version": 1, "price_cents": 1}, headers=headers
    )
    deleted = await fastapi_client.delete(f"/products/{product.id}", headers=headers)

    for response in (created, changed, deleted):
        assert_problem(response, 403, code="insufficient_scope", required=["role:staff"])


async def test_listing_products_needs_a_signed_in_caller(
    fastapi_client: httpx.AsyncClient,
) -> None:
    response = await fastapi_client.get("/products")

    assert_problem(response, 401)


async def test_products_are_listed_a_page_at_a_time(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    for name in ("Anchor", "Bell", "Candle", "Drum", "Easel"):
        await make_product(name=name)

    first = await fastapi_client.get("/products?limit=2", headers=headers_for(customer))
    last = await fastapi_client.get("/products?limit=2&offset=4", headers=headers_for(customer))

    assert [p["name"] for p in first.json()["items"]] == ["Anchor", "Bell"]
    assert first.json()["total"] == 5
    assert first.json()["has_next"] is True
    assert [p["name"] for p in last.json()["items"]] == ["Easel"]
    assert last.json()["has_next"] is False


async def test_products_are_sorted_by_the_fields_asked_for(
    fastapi_client: httpx.AsyncClient,
    customer: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    await make_product(name="Cheap", price_cents=100)
    await make_product(name="Dear", price_cents=9000)
    await make_product(name="Middling", price_cents=2500)

    response = await fastapi_client.get(
        "/products?sort=-price_cents", headers=headers_for(customer)
    )

    assert [p["name"] for p in response.json()["items"]] == ["Dear", "Middling", "Cheap"]


async def test_sorting_by_an_unlisted_field_is_a_400_problem(
    fastapi_client: httpx.AsyncClient, customer: User, headers_for: HeadersFor
) -> None:
    response = await fastapi_client.get("/products?sort=sku", headers=headers_for(customer))

    assert_problem(
        response, 400, code="invalid_sort", allowed=["name", "price_cents", "created_at"]
    )


async def test_a_deleted_product_disappears_but_its_row_stays(
    fastapi_client: httpx.AsyncClient,
    fastapi_session: AsyncSession,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    kept = await make_product(name="Kept")
    gone = await make_product(name="Gone")

    deleted = await fastapi_client.delete(f"/products/{gone.id}", headers=headers_for(staff))
    read = await fastapi_client.get(f"/products/{gone.id}", headers=headers_for(staff))
    listed = await fastapi_client.get("/products", headers=headers_for(staff))
    row = await fastapi_session.scalar(
        select(Product).where(Product.id == gone.id).execution_options(include_deleted=True)
    )

    assert deleted.status_code == 204
    assert_problem(read, 404, code="not_found")
    assert [p["id"] for p in listed.json()["items"]] == [kept.id]
    assert row is not None
    assert row.deleted_at is not None


async def test_an_update_based_on_the_current_version_applies_and_bumps_it(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product(name="Old name", price_cents=1000)

    response = await fastapi_client.patch(
        f"/products/{product.id}",
        json={"version": 1, "name": "New name"},
        headers=headers_for(staff),
    )

    assert response.status_code == 200
    assert response.json()["name"] == "New name"
    assert response.json()["price_cents"] == 1000
    assert response.json()["version"] == 2


async def test_an_update_based_on_a_stale_version_is_a_409_problem(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product(price_cents=1000)
    url = f"/products/{product.id}"
    await fastapi_client.patch(
        url, json={"version": 1, "price_cents": 1100}, headers=headers_for(staff)
    )

    stale = await fastapi_client.patch(
        url, json={"version": 1, "price_cents": 900}, headers=headers_for(staff)
    )
    current = await fastapi_client.get(url, headers=headers_for(staff))

    assert_problem(stale, 409, code="stale_version", expected_version=1)
    assert current.json()["price_cents"] == 1100
    assert current.json()["version"] == 2


async def test_updating_a_deleted_product_is_a_404_problem(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product()
    await fastapi_client.delete(f"/products/{product.id}", headers=headers_for(staff))

    response = await fastapi_client.patch(
        f"/products/{product.id}", json={"version": 2, "name": "Back?"}, headers=headers_for(staff)
    )

    assert_problem(response, 404, code="not_found")


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"name": None}, "#/body/name"),
        ({"price_cents": None}, "#/body/price_cents"),
        ({"price_cents": False}, "#/body/price_cents"),
        ({"price_cents": "5"}, "#/body/price_cents"),
    ],
)
async def test_a_change_the_schema_does_not_allow_is_refused_before_the_database(
    *,
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
    change: dict[str, object],
    pointer: str,
) -> None:
    product = await make_product(name="Kept", price_cents=1000)

    response = await fastapi_client.patch(
        f"/products/{product.id}", json={"version": 1, **change}, headers=headers_for(staff)
    )

    assert_problem(response, 422, code="validation_failed")
    assert [error["pointer"] for error in response.json()["errors"]] == [pointer]


async def test_an_integral_float_is_an_integer_as_the_schema_says(
    fastapi_client: httpx.AsyncClient,
    staff: User,
    headers_for: HeadersFor,
    make_product: ProductFactory,
) -> None:
    product = await make_product(name="Kept", price_cents=1000)

    response = await fastapi_client.patch(
        f"/products/{product.id}",
        json={"version": 1.0, "price_cents": 0.0},
        headers=headers_for(staff),
    )

    assert response.status_code == 200
    assert response.json()["price_cents"] == 0
