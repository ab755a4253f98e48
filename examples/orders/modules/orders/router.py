"""``/orders``: customers place and pay their orders, staff ship, deliver and refund them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from examples.orders.modules.bounds import IdPath
from examples.orders.modules.orders.models import Action, OrderStatus
from examples.orders.modules.orders.schemas import OrderCreate, OrderOut
from examples.orders.modules.orders.service import (
    InvalidTransitionError,
    OrderService,
    UnknownProductError,
    Viewer,
)
from examples.orders.modules.users.models import Role, User
from fastapi_pro.auth import (
    CurrentPrincipal,
    CurrentUser,
    InsufficientScopeError,
    require_roles,
)
from fastapi_pro.db import Page, PageParamsDep, SortField, sort_params
from fastapi_pro.errors import NotFoundError, problem_responses

router = APIRouter(prefix="/orders", tags=["orders"])


async def current_viewer(user: CurrentUser[User], principal: CurrentPrincipal) -> Viewer:
    """The caller: staff rights come from the ``staff`` role in the token."""
    return Viewer(user_id=user.id, staff=principal.has_roles(Role.STAFF))


Orders = Annotated[OrderService, Depends(OrderService.for_request)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]
OrderSort = Annotated[
    list[SortField], Depends(sort_params("created_at", "total_cents", default="-created_at"))
]
CUSTOMERS = [require_roles(Role.CUSTOMER)]
STAFF = [require_roles(Role.STAFF)]
TRANSITION_PROBLEMS = problem_responses(NotFoundError, InvalidTransitionError)
GUARDED_TRANSITION_PROBLEMS = problem_responses(
    InsufficientScopeError, NotFoundError, InvalidTransitionError
)


@router.post(
    "",
    status_code=201,
    dependencies=CUSTOMERS,
    responses=problem_responses(InsufficientScopeError, UnknownProductError),
)
async def place_order(data: OrderCreate, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Place a pending order (customers); each line keeps the product's current price."""
    return OrderOut.model_validate(await orders.place(viewer.user_id, data))


@router.get("")
async def list_orders(
    viewer: ViewerDep,
    orders: Orders,
    page: PageParamsDep,
    sort: OrderSort,
    status: OrderStatus | None = None,
) -> Page[OrderOut]:
    """Your orders, or every order for staff; ``?status=paid`` filters."""
    return await orders.page(viewer, page, sort, status)


@router.get("/{order_id}", responses=problem_responses(NotFoundError))
async def read_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """One order; another customer's order is a 404."""
    return OrderOut.model_validate(await orders.get(viewer, order_id))


@router.post("/{order_id}/pay", dependencies=CUSTOMERS, responses=GUARDED_TRANSITION_PROBLEMS)
async def pay_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Pay your pending order (customers)."""
    return OrderOut.model_validate(await orders.apply(viewer, order_id, Action.PAY))


@router.post("/{order_id}/cancel", responses=TRANSITION_PROBLEMS)
async def cancel_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Cancel a pending order (its customer, or staff)."""
    return OrderOut.model_validate(await orders.apply(viewer, order_id, Action.CANCEL))


@router.post("/{order_id}/ship", dependencies=STAFF, responses=GUARDED_TRANSITION_PROBLEMS)
async def ship_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Ship a paid order (staff)."""
    return OrderOut.model_validate(await orders.apply(viewer, order_id, Action.SHIP))


@router.post("/{order_id}/deliver", dependencies=STAFF, responses=GUARDED_TRANSITION_PROBLEMS)
async def deliver_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Record that a shipped order arrived (staff)."""
    return OrderOut.model_validate(await orders.apply(viewer, order_id, Action.DELIVER))


@router.post("/{order_id}/refund", dependencies=STAFF, responses=GUARDED_TRANSITION_PROBLEMS)
async def refund_order(order_id: IdPath, viewer: ViewerDep, orders: Orders) -> OrderOut:
    """Refund a paid or delivered order (staff)."""
    return OrderOut.model_validate(await orders.apply(viewer, order_id, Action.REFUND))
