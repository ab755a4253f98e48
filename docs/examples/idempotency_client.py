import asyncio
import uuid

import httpx


async def create_order(client: httpx.AsyncClient, item: str, attempts: int = 4) -> httpx.Response:
    """POST an order, retrying until an answer arrives; the order is created at most once."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}  # one key per order, on every attempt
    for attempt in range(1, attempts + 1):
        try:
            response = await client.post("/orders", json={"item": item}, headers=headers)
        except httpx.TransportError:  # timed out or cut off: the order may exist or not
            if attempt == attempts:
                raise
            await asyncio.sleep(0.1 * 2**attempt)
            continue
        if response.status_code != 409 or attempt == attempts:  # noqa: PLR2004
            return response  # 201, or 201 with Idempotent-Replayed: true after a lost answer
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))  # still running
    raise AssertionError  # unreachable: the last attempt returns or raises
