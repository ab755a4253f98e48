from fastapi import FastAPI

from fastapi_pro.errors import (
    ConflictError,
    NotFoundError,
    install_error_handlers,
    problem_responses,
)

app = FastAPI()
install_error_handlers(app)

ORDERS = {1: {"id": 1, "status": "paid"}}


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"
    title = "Order not found"


class OrderAlreadyPaidError(ConflictError):
    code = "order_already_paid"
    title = "Order already paid"


@app.get("/orders/{order_id}", responses=problem_responses(OrderNotFoundError))
async def read_order(order_id: int) -> dict[str, object]:
    if order_id not in ORDERS:
        raise OrderNotFoundError(f"Order {order_id} does not exist.")
    return ORDERS[order_id]


@app.post("/orders/{order_id}/pay", responses=problem_responses(OrderAlreadyPaidError))
async def pay_order(order_id: int) -> dict[str, object]:
    order = await read_order(order_id)
    if order["status"] == "paid":
        raise OrderAlreadyPaidError(extensions={"order_id": order_id})
    order["status"] = "paid"
    return order
