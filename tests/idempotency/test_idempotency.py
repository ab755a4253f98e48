"""Idempotency keys over real HTTP, on SQLite and PostgreSQL: the record commits with the work."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import event, func, select

from fastapi_pro.db import Database
from tests.idempotency.app import FAIL_COMMIT, Order, records

BODY = {"item": "book", "qty": 2}


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


async def counts(db: Database) -> tuple[int, int]:
    """How many orders and idempotency records are committed."""
    async with db.session() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        stored = await session.scalar(select(func.count()).select_from(records))
    return int(orders or 0), int(stored or 0)


def replayed(response: httpx.Response) -> bool:
    return response.headers.get("idempotent-replayed") == "true"


async def test_fifty_concurrent_duplicates_create_one_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    sent = [client.post("/orders", json=BODY, headers=keyed("k-50")) for _ in range(50)]
    responses = await asyncio.gather(*sent)
    originals = [r for r in responses if r.status_code == 201 and not replayed(r)]
    replays = [r for r in responses if r.status_code == 201 and replayed(r)]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_flight) == 50
    assert all(r.content == originals[0].content for r in replays)
    assert all(r.headers["retry-after"] == "1" for r in in_flight)
    assert {r.json()["code"] for r in in_flight} <= {"idempotency_key_in_use"}
    assert await counts(db) == (1, 1)


async def test_a_retry_is_replayed_byte_for_byte_with_a_new_request_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await client.post("/orders", json=BODY, headers=keyed("k-1", **{"X-Request-ID": "a"}))
    retry = await client.post(
        "/orders", json={"qty": 2, "item": "book"}, headers=keyed("k-1", **{"X-Request-ID": "b"})
    )
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"] == "/orders/1"
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert replayed(retry)
    assert not replayed(first)
    assert (first.headers["x-request-id"], retry.headers["x-request-id"]) == ("a", "b")
    assert "x-not-kept" in first.headers
    assert "x-not-kept" not in retry.headers
    assert await counts(db) == (1, 1)


async def test_the_same_key_with_another_body_is_a_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post("/orders", json=BODY, headers=keyed("k-2"))
    other = await client.post("/orders", json={"item": "pen", "qty": 1}, headers=keyed("k-2"))
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    assert await counts(db) == (1, 1)


async def test_the_same_key_on_another_query_is_a_422(client: httpx.AsyncClient) -> None:
    await client.post("/orders", json=BODY, headers=keyed("k-q"))
    other = await client.post("/orders?note=1", json=BODY, headers=keyed("k-q"))
    assert other.status_code == 422


async def test_a_key_is_per_route(client: httpx.AsyncClient, db: Database) -> None:
    await client.post("/orders", json=BODY, headers=keyed("k-r"))
    other = await client.post("/required", json=BODY, headers=keyed("k-r"))
    assert other.status_code == 201
    assert not replayed(other)
    assert await counts(db) == (2, 2)


async def test_a_failed_commit_stores_nothing_and_the_retry_runs_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    failed = await client.post("/orders", json=BODY, headers=keyed("k-3", **{FAIL_COMMIT: "1"}))
    assert failed.status_code == 409
    assert failed.headers["content-type"] == "application/problem+json"
    assert await counts(db) == (0, 0)
    retry = await client.post("/orders", json=BODY, headers=keyed("k-3"))
    again = await client.post("/orders", json=BODY, headers=keyed("k-3"))
    assert retry.status_code == again.status_code == 201
    assert not replayed(retry)
    assert replayed(again)
    assert await counts(db) == (1, 1)


async def test_an_error_the_endpoint_raises_is_not_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await client.post("/refused", json=BODY, headers=keyed("k-4"))
    second = await client.post("/refused", json=BODY, headers=keyed("k-4"))
    assert first.status_code == second.status_code == 409
    assert first.json()["code"] == second.json()["code"] == "conflict"
    assert not replayed(second)
    assert await counts(db) == (0, 0)


async def test_a_required_key_that_is_missing_is_a_400(
    client: httpx.AsyncClient, db: Database
) -> None:
    missing = await client.post("/required", json=BODY)
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_missing"
    assert await counts(db) == (0, 0)


async def test_an_optional_key_that_is_missing_runs_without_a_record(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await client.post("/orders", json=BODY)
    second = await client.post("/orders", json=BODY)
    assert first.status_code == second.status_code == 201
    assert await counts(db) == (2, 0)


async def test_invalid_keys_are_a_400(client: httpx.AsyncClient, db: Database) -> None:
    for key in (b"", b"a b", b"x" * 256, b'"quoted\\"', b'"', "caf\u00e9".encode()):
        response = await client.post("/orders", json=BODY, headers={"Idempotency-Key": key})
        assert response.status_code == 400, key
        assert response.json()["code"] == "idempotency_key_invalid"
        assert len(key) < 3 or key not in response.content  # the key is never echoed
    assert await counts(db) == (0, 0)


async def test_the_longest_key_allowed_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json=BODY, headers=keyed("x" * 255))
    assert response.status_code == 201


async def test_a_quoted_key_is_the_same_key(client: httpx.AsyncClient, db: Database) -> None:
    await client.post("/orders", json=BODY, headers=keyed('"k-5"'))
    retry = await client.post("/orders", json=BODY, headers=keyed("k-5"))
    assert replayed(retry)
    assert await counts(db) == (1, 1)


async def test_an_expired_key_is_treated_as_new(client: httpx.AsyncClient, db: Database) -> None:
    first = await client.post("/short", json=BODY, headers=keyed("k-6"))
    retry = await client.post("/short", json=BODY, headers=keyed("k-6"))
    assert first.status_code == retry.status_code == 201
    assert not replayed(retry)
    assert retry.headers["location"] != first.headers["location"]
    assert await counts(db) == (2, 1)


async def test_a_keyed_request_adds_two_statements_and_an_unkeyed_one_none(
    client: httpx.AsyncClient, db: Database
) -> None:
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(str(args[2]).split(None, 1)[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await client.post("/orders", json=BODY)
        unkeyed, sent[:] = list(sent), []
        await client.post("/orders", json=BODY, headers=keyed("k-count"))
        keyed_statements, sent[:] = list(sent), []
        await client.post("/orders", json=BODY, headers=keyed("k-count"))
        replay = list(sent)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(keyed_statements) == len(unkeyed) + 2
    assert keyed_statements[-1] == "INSERT"  # the record, last in the unit of work
    assert len(replay) == 1  # the lookup, and nothing of the endpoint
