"""Catalogue maintenance."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import Depends

from examples.orders.modules.products.models import Product
from examples.orders.modules.products.repository import ProductRepository
from examples.orders.modules.products.schemas import ProductCreate, ProductUpdate
from fastapi_pro.db import Page, PageParams, SortField


class ProductService:
    """Create, read, change and retire products."""

    def __init__(self, products: ProductRepository) -> None:
        self.products = products

    @classmethod
    async def for_request(
        cls, products: Annotated[ProductRepository, Depends(ProductRepository.for_request)]
    ) -> Self:
        """The service on the request's session (a coroutine: FastAPI awaits it in place)."""
        return cls(products)

    async def create(self, data: ProductCreate) -> Product:
        """Add a product; a taken SKU is a 409 ``unique_violation``."""
        return await self.products.add(Product(**data.model_dump()))

    async def page(self, params: PageParams, sort: list[SortField]) -> Page[Product]:
        """One page of the visible products."""
        return await self.products.page(params, sort=sort)

    async def get(self, product_id: int) -> Product:
        """A visible product, or a 404 ``not_found``."""
        return await self.products.get(product_id)

    async def update(self, product_id: int, data: ProductUpdate) -> Product:
        """Apply a change based on ``data.version``: one conditional UPDATE.

        Raises:
            NotFoundError: When the product does not exist or was deleted.
            StaleVersionError: When someone changed it since ``data.version`` (409).
        """
        values = data.model_dump(exclude={"version"}, exclude_unset=True)
        return await self.products.update(product_id, values, expected_version=data.version)

    async def delete(self, product_id: int) -> None:
        """Hide the product from the catalogue (soft delete)."""
        await self.products.delete(product_id)
