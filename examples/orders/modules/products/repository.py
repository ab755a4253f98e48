"""Data access for products."""

from __future__ import annotations

from collections.abc import Collection

from examples.orders.modules.products.models import Product
from fastapi_pro.db import Repository


class ProductRepository(Repository[Product]):
    """`Repository` over ``products`` (soft-deleted rows hidden, versions checked)."""

    async def by_ids(self, ids: Collection[int]) -> dict[int, Product]:
        """Return the visible products among ``ids`` in one query, keyed by id."""
        return {product.id: product for product in await self.list(Product.id.in_(ids))}
