"""``/products``: signed-in users browse, staff create, change and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Security

from examples.orders.modules.bounds import IdPath
from examples.orders.modules.products.schemas import ProductCreate, ProductOut, ProductUpdate
from examples.orders.modules.products.service import ProductService
from examples.orders.modules.users.models import Role
from fastapi_pro.auth import InsufficientScopeError, current_principal, require_roles
from fastapi_pro.db import (
    Page,
    PageParamsDep,
    SortField,
    StaleVersionError,
    UniqueViolationError,
    sort_params,
)
from fastapi_pro.errors import NotFoundError, problem_responses

router = APIRouter(
    prefix="/products", tags=["products"], dependencies=[Security(current_principal)]
)

Products = Annotated[ProductService, Depends(ProductService.for_request)]
ProductSort = Annotated[
    list[SortField], Depends(sort_params("name", "price_cents", "created_at", default="name"))
]
STAFF_ONLY = [require_roles(Role.STAFF)]


@router.get("")
async def list_products(
    products: Products, page: PageParamsDep, sort: ProductSort
) -> Page[ProductOut]:
    """The catalogue, a page at a time (``?limit=&offset=&sort=-price_cents``)."""
    return await products.page(page, sort)


@router.get("/{product_id}", responses=problem_responses(NotFoundError))
async def read_product(product_id: IdPath, products: Products) -> ProductOut:
    """One product."""
    return ProductOut.model_validate(await products.get(product_id))


@router.post(
    "",
    status_code=201,
    dependencies=STAFF_ONLY,
    responses=problem_responses(InsufficientScopeError, UniqueViolationError),
)
async def create_product(data: ProductCreate, products: Products) -> ProductOut:
    """Add a product (staff)."""
    return ProductOut.model_validate(await products.create(data))


@router.patch(
    "/{product_id}",
    dependencies=STAFF_ONLY,
    responses=problem_responses(InsufficientScopeError, NotFoundError, StaleVersionError),
)
async def update_product(product_id: IdPath, data: ProductUpdate, products: Products) -> ProductOut:
    """Change a product (staff); send the ``version`` you read, a stale one is a 409."""
    return ProductOut.model_validate(await products.update(product_id, data))


@router.delete(
    "/{product_id}",
    status_code=204,
    dependencies=STAFF_ONLY,
    responses=problem_responses(InsufficientScopeError, NotFoundError),
)
async def delete_product(product_id: IdPath, products: Products) -> None:
    """Remove a product from the catalogue (staff); orders that hold it keep their lines."""
    await products.delete(product_id)
