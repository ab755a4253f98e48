"""The plugin's fixtures, used directly by this suite (its app: tests/testing/sample_app.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.auth._dependencies import current_user
from fastapi_pro.ratelimit import RateLimiter
from fastapi_pro.testing import (
    ActAs,
    CapturedLogs,
    CapturedMetrics,
    CapturedSpans,
    QueryCounter,
    TokenFactory,
    assert_problem,
)
from tests.testing.sample_app import Row, User


async def count_rows(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Row)) or 0


async def test_the_app_commits_into_the_tests_transaction(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession
) -> None:
    response = await fastapi_client.post("/rows/alice")
    assert response.status_code == 201
    row = await fastapi_session.get(Row, response.json()["id"])
    assert row is not None
    assert row.owner == "alice"


async def test_rows_of_earlier_tests_are_gone(fastapi_session: AsyncSession) -> None:
    assert await count_rows(fastapi_session) == 0


async def test_what_the_test_commits_the_app_reads(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession
) -> None:
    row = Row(owner="carol")
    fastapi_session.add(row)
    await fastapi_session.commit()
    response = await fastapi_client.get(f"/rows/{row.id}")
    assert response.json() == {"owner": "carol"}


async def test_a_failed_request_rolls_back_only_its_own_work(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession
) -> None:
    fastapi_session.add(Row(owner="kept"))
    await fastapi_session.commit()
    assert (await fastapi_client.get("/rows/999999")).status_code == 404
    assert await count_rows(fastapi_session) == 1


async def test_assert_problem_returns_the_problem(fastapi_client: httpx.AsyncClient) -> None:
    response = await fastapi_client.get("/rows/424242")
    problem = assert_problem(response, 404, code="not_found")
    assert problem["detail"] == "Row 424242 does not exist."


@pytest.mark.parametrize(
    ("status", "code", "members"),
    [(409, None, {}), (404, "conflict", {}), (404, None, {"detail": "other"})],
)
async def test_assert_problem_fails_on_a_mismatch(
    fastapi_client: httpx.AsyncClient, status: int, code: str | None, members: dict[str, Any]
) -> None:
    response = await fastapi_client.get("/rows/1")
    with pytest.raises(pytest.fail.Exception):
        assert_problem(response, status, code, **members)


async def test_assert_problem_refuses_a_plain_json_body(
    fastapi_client: httpx.AsyncClient,
) -> None:
    response = await fastapi_client.post("/rows/x")
    with pytest.raises(pytest.fail.Exception, match="problem"):
        assert_problem(response, 201)


async def test_token_factory_signs_tokens_the_app_accepts(
    fastapi_client: httpx.AsyncClient, auth_headers: Any
) -> None:
    response = await fastapi_client.get("/me", headers=auth_headers("dana"))
    assert response.json() == {"id": "dana"}


async def test_token_factory_makes_expired_tokens(
    fastapi_client: httpx.AsyncClient, token_factory: TokenFactory
) -> None:
    token = token_factory("dana", ttl=-60)
    response = await fastapi_client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_roles_and_scopes_in_tokens_are_enforced(
    fastapi_client: httpx.AsyncClient, auth_headers: Any
) -> None:
    assert (await fastapi_client.get("/admin", headers=auth_headers("e"))).status_code == 403
    admin = auth_headers("e", roles=["admin"])
    assert (await fastapi_client.get("/admin", headers=admin)).status_code == 200
    reader = auth_headers("e", scopes=["reports:read"])
    assert (await fastapi_client.get("/reports", headers=reader)).json() == {"subject": "e"}


async def test_act_as_serves_the_user_without_a_token(
    fastapi_client: httpx.AsyncClient, act_as: ActAs
) -> None:
    act_as(User("frank"))
    assert (await fastapi_client.get("/me")).json() == {"id": "frank"}


async def test_act_as_still_enforces_roles_and_scopes(
    fastapi_client: httpx.AsyncClient, act_as: ActAs
) -> None:
    act_as(User("gina"), scopes=["reports:read"])
    assert_problem(await fastapi_client.get("/admin"), 403)
    assert (await fastapi_client.get("/reports")).json() == {"subject": "gina"}
    act_as(User("gina"), roles=["admin"])
    assert (await fastapi_client.get("/admin")).status_code == 200


async def test_act_as_enforces_scopes_given_to_a_dependency_on_the_user(
    fastapi_client: httpx.AsyncClient, act_as: ActAs, auth_headers: Any
) -> None:
    assert_problem(await fastapi_client.get("/staff-only", headers=auth_headers("k")), 403)
    act_as(User("kai"), roles=["customer"])
    assert_problem(await fastapi_client.get("/staff-only"), 403)
    act_as(User("kai"), roles=["staff"])
    assert (await fastapi_client.get("/staff-only")).json() == {"id": "kai"}


async def test_act_as_anonymous_restores_real_authentication(
    fastapi_client: httpx.AsyncClient, act_as: ActAs
) -> None:
    act_as(User("hugo"))
    act_as.anonymous()
    assert_problem(await fastapi_client.get("/me"), 401)


async def test_overrides_made_by_a_test_are_set_during_it(
    fastapi_app: FastAPI, fastapi_client: httpx.AsyncClient, act_as: ActAs
) -> None:
    act_as(User("ivy"))

    async def nobody() -> User:
        return User("nobody")

    fastapi_app.dependency_overrides[current_user] = nobody
    assert (await fastapi_client.get("/me")).json() == {"id": "nobody"}


async def test_overrides_of_earlier_tests_are_removed(
    fastapi_app: FastAPI, fastapi_client: httpx.AsyncClient
) -> None:
    assert fastapi_app.dependency_overrides == {}
    assert_problem(await fastapi_client.get("/me"), 401)


async def test_query_counter_counts_the_apps_statements(
    fastapi_client: httpx.AsyncClient, query_counter: QueryCounter
) -> None:
    await fastapi_client.post("/rows/a")
    assert query_counter.count == 1
    assert query_counter.statements[0].lstrip().upper().startswith("INSERT")


async def test_assert_max_queries_passes_within_the_limit(
    fastapi_client: httpx.AsyncClient, assert_max_queries: Any
) -> None:
    await fastapi_client.post("/rows/a")
    with assert_max_queries(1):
        await fastapi_client.get("/rows/1")


async def test_assert_max_queries_catches_n_plus_one(
    fastapi_client: httpx.AsyncClient, assert_max_queries: Any
) -> None:
    for owner in "abc":
        await fastapi_client.post(f"/rows/{owner}")
    with (
        pytest.raises(pytest.fail.Exception, match="at most 1 SQL statements, 4 ran"),
        assert_max_queries(1),
    ):
        await fastapi_client.get("/rows")


async def test_captured_spans_hold_the_request_span(
    fastapi_client: httpx.AsyncClient, captured_spans: CapturedSpans
) -> None:
    await fastapi_client.get("/rows/7")
    [span] = captured_spans.named("GET /rows/{row_id}")
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 404


async def test_captured_spans_start_empty(captured_spans: CapturedSpans) -> None:
    assert captured_spans.spans == []


async def test_captured_metrics_count_this_tests_requests_only(
    fastapi_client: httpx.AsyncClient, captured_metrics: CapturedMetrics
) -> None:
    for _ in range(3):
        await fastapi_client.get("/rows/5")
    count = "http_server_request_duration_seconds_count"
    assert captured_metrics.value(count, http_route="/rows/{row_id}") == 3
    assert captured_metrics.value(count, http_route="/rows/{row_id}", method="POST") == 0


async def test_captured_logs_hold_app_records_and_access_lines(
    fastapi_client: httpx.AsyncClient, captured_logs: CapturedLogs
) -> None:
    response = await fastapi_client.post("/rows/zoe")
    [record] = [r for r in captured_logs.records if r.message == "row added"]
    assert record.extra["owner"] == "zoe"
    assert record.extra["request_id"] == response.headers["x-request-id"]
    assert any("POST /rows/zoe 201" in message for message in captured_logs.messages)


@pytest.mark.parametrize("run", ["first", "second"])
async def test_rate_limits_start_every_test_with_fresh_counts(
    fastapi_app: FastAPI, fastapi_client: httpx.AsyncClient, rate_limits: RateLimiter, run: str
) -> None:
    assert rate_limits is RateLimiter.of(fastapi_app)
    statuses = [(await fastapi_client.get("/limited")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the run before spent the same limit
