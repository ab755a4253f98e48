"""The idempotency guide's examples: its app, and its client retrying after a lost answer."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from tests.test_docs import load


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but the first answer is lost on the way back (a read timeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.sent += 1
        if self.sent == 1:
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


async def test_a_retry_after_a_lost_answer_gets_the_same_order_once() -> None:
    service = load("idempotency_app")
    client_example = load("idempotency_client")
    async with LifespanManager(service.app) as manager:
        transport = LosesFirstAnswer(httpx.ASGITransport(app=manager.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client_example.create_order(client, "book")
            missing = await client.post("/orders", json={"item": "pen"})
        async with service.db.session() as session:
            orders = await session.scalar(select(func.count()).select_from(service.ShopOrder))
    assert transport.sent == 3
    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.headers["Location"] == "/orders/1"
    assert response.json() == {"id": 1}
    assert orders == 1
    assert missing.status_code == 400
