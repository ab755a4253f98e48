import logging

from fastapi import BackgroundTasks, FastAPI

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.observability import (
    Metrics,
    configure_logging,
    configure_tracing,
    install_observability,
)

configure_logging(json_lines=True)  # readable text in development: json_lines=False

metrics = Metrics()
orders_paid = metrics.counter("orders_paid_total", "Orders paid.", ["currency"])
tracing = configure_tracing(service_name="orders", service_version="1.4.0", exporter="none")

app = FastAPI()
install_error_handlers(app)
install_observability(app, metrics=metrics, tracer_provider=tracing)
app.include_router(metrics.router())  # GET /metrics, not measured itself

log = logging.getLogger("orders")


def send_receipt(order_id: int) -> None:
    log.info("receipt sent for order %s", order_id)  # still carries the request id


@app.post("/orders/{order_id}/pay")
async def pay(order_id: int, tasks: BackgroundTasks) -> dict[str, str]:
    log.info("paying order %s", order_id)
    orders_paid.labels("EUR").inc()
    tasks.add_task(send_receipt, order_id)  # not counted in the request's latency
    return {"status": "paid"}
