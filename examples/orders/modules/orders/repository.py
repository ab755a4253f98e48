"""Data access for orders, including the guarded status change."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import selectinload

from examples.orders.modules.orders.models import Order, OrderStatus
from fastapi_pro.db import Page, PageParams, Repository, SortField

WITH_LINES = (selectinload(Order.lines),)


def _scope(order_id: int, customer_id: int | None) -> list[ColumnElement[bool]]:
    where = [Order.id == order_id]
    if customer_id is not None:
        where.append(Order.customer_id == customer_id)
    return where


class OrderRepository(Repository[Order]):
    """`Repository` over ``orders``; ``customer_id=None`` means "any customer's order"."""

    async def find(self, order_id: int, *, customer_id: int | None) -> Order | None:
        """The order with its lines, if it exists within the scope."""
        return await self.find_one_or_none(*_scope(order_id, customer_id), options=WITH_LINES)

    async def page_of(
        self,
        params: PageParams,
        *,
        customer_id: int | None,
        status: OrderStatus | None,
        sort: list[SortField],
    ) -> Page[Order]:
        """One page of orders with their lines (two queries: the page, then all its lines)."""
        where: list[ColumnElement[bool]] = []
        if customer_id is not None:
            where.append(Order.customer_id == customer_id)
        if status is not None:
            where.append(Order.status == status)
        return await self.page(params, *where, sort=sort, options=WITH_LINES)

    async def transition(
        self,
        order_id: int,
        sources: Collection[OrderStatus],
        target: OrderStatus,
        *,
        customer_id: int | None,
    ) -> Order | None:
        """Move the order to ``target`` if it is in one of ``sources``; one conditional UPDATE.

        The ``WHERE status IN (...)`` is the concurrency guard: of two requests that race to
        move one order, the database lets exactly one UPDATE match (PostgreSQL re-checks the
        condition after waiting for the other's row lock; SQLite runs one writer at a time).
        Returns ``None`` when no row matched, so the caller can say why.
        """
        statement = (
            update(Order)
            .where(*_scope(order_id, customer_id), Order.status.in_(sources))
            .values(status=target, version=Order.version + 1)
            .returning(Order)
            .options(*WITH_LINES)
        )
        result = await self.session.execute(
            statement, execution_options={"synchronize_session": False, "populate_existing": True}
        )
        return result.scalars().one_or_none()

    async def status_of(self, order_id: int, *, customer_id: int | None) -> OrderStatus | None:
        """The order's current status, or ``None`` when it does not exist within the scope."""
        statement = select(Order.status).where(*_scope(order_id, customer_id))
        return (await self.session.execute(statement)).scalar_one_or_none()
