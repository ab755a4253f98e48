"""Placing orders and moving them through their life cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Self

from fastapi import Depends

from examples.orders.modules.orders.models import (
    TRANSITIONS,
    Action,
    Order,
    OrderLine,
    OrderStatus,
)
from examples.orders.modules.orders.repository import OrderRepository
from examples.orders.modules.orders.schemas import OrderCreate
from examples.orders.modules.products.repository import ProductRepository
from fastapi_pro.db import Page, PageParams, SortField
from fastapi_pro.errors import ConflictError, NotFoundError, UnprocessableEntityError


class InvalidTransitionError(ConflictError):
    """The order is not in a state the action may start from (409 ``invalid_transition``)."""

    code = "invalid_transition"
    title = "Invalid order transition"


class UnknownProductError(UnprocessableEntityError):
    """An order line names a product that does not exist or was deleted (422)."""

    code = "unknown_product"
    title = "Unknown product"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: staff act on every order, customers only on their own."""

    user_id: int
    staff: bool

    def scope(self, action: Action | None = None) -> int | None:
        """The customer whose orders this viewer may act on; ``None`` for all of them.

        Paying is always for one's own order, even for staff.
        """
        return None if self.staff and action is not Action.PAY else self.user_id


class OrderService:
    """Orders: place, read and move them through `TRANSITIONS`."""

    def __init__(self, orders: OrderRepository, products: ProductRepository) -> None:
        self.orders = orders
        self.products = products

    @classmethod
    async def for_request(
        cls,
        orders: Annotated[OrderRepository, Depends(OrderRepository.for_request)],
        products: Annotated[ProductRepository, Depends(ProductRepository.for_request)],
    ) -> Self:
        """The service on the request's session (a coroutine: FastAPI awaits it in place)."""
        return cls(orders, products)

    async def place(self, customer_id: int, data: OrderCreate) -> Order:
        """Create a pending order, copying each product's current name and price.

        Raises:
            UnknownProductError: When a product does not exist or was deleted.
        """
        wanted = {line.product_id: line.quantity for line in data.lines}
        products = await self.products.by_ids(wanted)
        missing = sorted(wanted.keys() - products.keys())
        if missing:
            detail = f"No product has the id(s) {', '.join(map(str, missing))}."
            raise UnknownProductError(detail, extensions={"product_ids": missing})
        lines = [
            OrderLine(
                product_id=product_id,
                product_name=products[product_id].name,
                quantity=quantity,
                unit_price_cents=products[product_id].price_cents,
            )
            for product_id, quantity in wanted.items()
        ]
        total = sum(line.quantity * line.unit_price_cents for line in lines)
        order = Order(customer_id=customer_id, status=OrderStatus.PENDING, total_cents=total)
        order.lines = lines
        return await self.orders.add(order)

    async def page(
        self,
        viewer: Viewer,
        params: PageParams,
        sort: list[SortField],
        status: OrderStatus | None = None,
    ) -> Page[Order]:
        """One page of the orders the viewer may see."""
        return await self.orders.page_of(
            params, customer_id=viewer.scope(), status=status, sort=sort
        )

    async def get(self, viewer: Viewer, order_id: int) -> Order:
        """An order the viewer may see; someone else's is a 404, as if it did not exist."""
        order = await self.orders.find(order_id, customer_id=viewer.scope())
        if order is None:
            raise _not_found(order_id)
        return order

    async def apply(self, viewer: Viewer, order_id: int, action: Action) -> Order:
        """Run one transition of the state machine as a single guarded UPDATE.

        Raises:
            NotFoundError: When the order does not exist, or is not the viewer's to act on.
            InvalidTransitionError: When the order's state does not allow ``action``; it names
                the current state.
        """
        sources, target = TRANSITIONS[action]
        scope = viewer.scope(action)
        order = await self.orders.transition(order_id, sources, target, customer_id=scope)
        if order is not None:
            return order
        current = await self.orders.status_of(order_id, customer_id=scope)
        if current is None:
            raise _not_found(order_id)
        allowed = sorted(status.value for status in sources)
        raise InvalidTransitionError(
            f"Order {order_id} is {current.value}; it can be {target.value} only when it is "
            f"{' or '.join(allowed)}.",
            extensions={
                "current_status": current.value,
                "action": action.value,
                "allowed_from": allowed,
            },
        )


def _not_found(order_id: int) -> NotFoundError:
    return NotFoundError(
        f"Order {order_id} does not exist.", extensions={"resource": "Order", "id": str(order_id)}
    )
