"""`RateLimit` on routes, routers and apps: counting, refusals, and the headers of every answer."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from starlette.requests import Request

from fastapi_pro.errors import AuthenticationError, NotFoundError, install_error_handlers
from fastapi_pro.ratelimit import RateLimit, RateLimiter, parse_policy
from tests.conftest import ClientFactory

# draft-ietf-httpapi-ratelimit-headers: a List of Items, a quoted name with parameters.
POLICY_ITEM = r'"[^"]+";q=\d+;w=\d+'
QUOTA_ITEM = r'"[^"]+";r=\d+;t=\d+'


def list_of(item: str) -> re.Pattern[str]:
    return re.compile(rf"{item}(, {item})*")


def refuse_credentials() -> None:
    raise AuthenticationError("No credentials.")


class Body(BaseModel):
    size: int


def make_app(limiter: RateLimiter | None = None, *limits: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    (limiter or RateLimiter()).install(app)
    router = APIRouter(prefix="/v1", dependencies=[Depends(RateLimit(*(limits or ("3/minute",))))])

    @router.post("/items/{item_id}")
    async def item(item_id: int, body: Body, page: int = 1) -> dict[str, int]:
        if item_id == 404:
            raise NotFoundError("No such item.")
        if item_id == 500:
            raise RuntimeError("boom")
        return {"id": item_id}

    @router.get("/private", dependencies=[Depends(refuse_credentials)])
    async def private() -> dict[str, bool]:
        return {}

    app.include_router(router)
    return app


def quota(response: httpx.Response) -> str:
    return response.headers["RateLimit"]


async def test_a_limited_route_announces_its_policy_and_quota_in_the_draft_syntax(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/v1/items/1", json={"size": 1})
    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"3-per-minute";q=3;w=60'
    assert quota(response) == '"3-per-minute";r=2;t=60'
    assert list_of(POLICY_ITEM).fullmatch(response.headers["RateLimit-Policy"])
    assert list_of(QUOTA_ITEM).fullmatch(quota(response))


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c: c.post("/v1/items/404", json={"size": 1}), 404),
        (lambda c: c.post("/v1/items/500", json={"size": 1}), 500),
        (lambda c: c.post("/v1/items/1?page=first", json={"size": 1}), 422),
        (lambda c: c.post("/v1/items/1", json={"size": "big"}), 422),
        (lambda c: c.get("/v1/private"), 401),
    ],
    ids=["404 from the endpoint", "500", "422 query", "422 body", "401 from a later dependency"],
)
async def test_error_responses_of_a_limited_route_carry_the_headers_and_count(
    client_for: ClientFactory, call: object, status: int
) -> None:
    async with client_for(make_app()) as client:
        response = await call(client)  # type: ignore[operator]
    assert response.status_code == status
    assert response.headers["RateLimit-Policy"] == '"3-per-minute";q=3;w=60'
    assert quota(response) == '"3-per-minute";r=2;t=60'


async def test_a_body_that_is_not_json_is_refused_before_the_limit_is_counted(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app()) as client:
        bad = await client.post(
            "/v1/items/1", content=b"{", headers={"Content-Type": "application/json"}
        )
        after = await client.post("/v1/items/1", json={"size": 1})
    assert bad.status_code == 400
    assert "RateLimit" not in bad.headers
    assert quota(after) == '"3-per-minute";r=2;t=60'


async def test_the_request_past_the_limit_is_a_429_problem_with_retry_after(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app()) as client:
        for _ in range(3):
            assert (await client.post("/v1/items/1", json={"size": 1})).status_code == 200
        refused = await client.post("/v1/items/1", json={"size": 1})
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_requests"
    assert refused.json()["detail"] == "Too many requests: the 3-per-minute limit is used up."
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert quota(refused) == '"3-per-minute";r=0;t=60'


async def test_each_route_template_has_counts_of_its_own(client_for: ClientFactory) -> None:
    async with client_for(make_app(None, "1/minute")) as client:
        first = await client.post("/v1/items/1", json={"size": 1})
        other_item = await client.post("/v1/items/2", json={"size": 1})
        other_route = await client.get("/v1/private")
    assert first.status_code == 200
    assert other_item.status_code == 429  # the same template, /v1/items/{item_id}
    assert other_route.status_code == 401  # its own count: not refused


async def test_every_limit_of_a_route_is_announced_and_the_tightest_refuses(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app(None, "2/minute", "3/hour")) as client:
        answers = [await client.post("/v1/items/1", json={"size": 1}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert answers[0].headers["RateLimit-Policy"] == (
        '"2-per-minute";q=2;w=60, "3-per-hour";q=3;w=3600'
    )
    assert quota(answers[1]) == '"2-per-minute";r=0;t=60, "3-per-hour";r=1;t=3600'
    assert quota(answers[2]) == '"2-per-minute";r=0;t=60'  # refused there, the hour not spent


def limited_app(dependency: RateLimit, limiter: RateLimiter | None = None) -> FastAPI:
    app = FastAPI(dependencies=[Depends(dependency)])
    install_error_handlers(app)
    (limiter or RateLimiter()).install(app)

    @app.get("/a")
    async def a() -> dict[str, str]:
        return {}

    @app.get("/b")
    async def b() -> dict[str, str]:
        return {}

    return app


async def test_a_cost_spends_several_units_per_request(client_for: ClientFactory) -> None:
    async with client_for(limited_app(RateLimit("10/minute", cost=4))) as client:
        answers = [await client.get("/a") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert quota(answers[1]) == '"10-per-minute";r=2;t=60'


async def test_a_named_scope_shares_one_count_across_routes(client_for: ClientFactory) -> None:
    dependency = RateLimit("2/minute", scope="whole-api", names=("api",))
    async with client_for(limited_app(dependency)) as client:
        answers = [await client.get(path) for path in ("/a", "/b", "/a")]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"api";q=2;w=60'


async def tenant(request: Request) -> str | None:
    return request.headers.get("X-Tenant")


async def test_a_key_function_counts_each_tenant_apart(client_for: ClientFactory) -> None:
    async with client_for(limited_app(RateLimit("1/minute", key=tenant))) as client:
        acme = await client.get("/a", headers={"X-Tenant": "acme"})
        globex = await client.get("/a", headers={"X-Tenant": "globex"})
        acme_again = await client.get("/a", headers={"X-Tenant": "acme"})
        no_tenant = await client.get("/a")  # falls back to the client's address
    assert [r.status_code for r in (acme, globex, acme_again, no_tenant)] == [200, 200, 429, 200]


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter", "fixed-window"])
async def test_every_strategy_admits_the_limit_and_refuses_past_it(
    client_for: ClientFactory, strategy: str
) -> None:
    dependency = RateLimit("3/minute", strategy=strategy)  # type: ignore[arg-type]
    async with client_for(limited_app(dependency)) as client:
        statuses = [(await client.get("/a")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


async def test_a_disabled_limiter_lets_everything_through_without_headers(
    client_for: ClientFactory,
) -> None:
    app = limited_app(RateLimit("1/minute"), RateLimiter(enabled=False))
    async with client_for(app) as client:
        answers = [await client.get("/a") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "RateLimit" not in answers[0].headers


async def test_refusals_are_counted_by_route_template_and_policy(
    client_for: ClientFactory,
) -> None:
    limiter = RateLimiter()
    async with client_for(make_app(limiter, "1/minute")) as client:
        for _ in range(3):
            await client.post("/v1/items/7", json={"size": 1})
    labels = {"http_route": "/v1/items/{item_id}", "policy": "1-per-minute"}
    assert limiter.registry.get_sample_value("ratelimit_refusals_total", labels) == 2


async def test_reset_forgets_every_count(client_for: ClientFactory) -> None:
    limiter = RateLimiter()
    async with client_for(limited_app(RateLimit("1/minute"), limiter)) as client:
        assert (await client.get("/a")).status_code == 200
        await limiter.reset()
        assert (await client.get("/a")).status_code == 200


def test_the_openapi_document_lists_the_429_and_503_of_limited_routes() -> None:
    operation = make_app().openapi()["paths"]["/v1/items/{item_id}"]["post"]
    assert {"429", "503"} <= set(operation["responses"])


async def test_a_route_limited_on_an_app_without_a_limiter_names_the_call_to_add() -> None:
    app = FastAPI(dependencies=[Depends(RateLimit("1/minute"))])

    @app.get("/a")
    async def a() -> dict[str, str]:
        return {}

    transport = httpx.ASGITransport(app=app)  # the app's error is raised here
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"RateLimiter\(\)\.install\(app\)"):
            await client.get("/a")


def test_a_limiter_is_installed_once_per_app() -> None:
    app = make_app()
    with pytest.raises(RuntimeError, match="already called"):
        RateLimiter().install(app)


@pytest.mark.parametrize(
    ("limits", "options"),
    [((), {}), (("1/minute",), {"cost": 0}), (("1/minute",), {"names": ("a", "b")})],
)
def test_a_rate_limit_without_limits_a_cost_or_matching_names_is_refused(
    limits: tuple[str, ...], options: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="at least one limit"):
        RateLimit(*limits, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit", "name", "field"),
    [
        ("10/second", None, '"10-per-second";q=10;w=1'),
        ("5 per 15 minutes", None, '"5-per-15-minute";q=5;w=900'),
        ("100/day", "daily", '"daily";q=100;w=86400'),
    ],
)
def test_policies_are_read_from_the_limits_notation(
    limit: str, name: str | None, field: str
) -> None:
    assert parse_policy(limit, name).field() == field


@pytest.mark.parametrize(("limit", "name"), [("often", None), ("1/second", 'say "hi"')])
def test_an_unreadable_limit_or_a_name_a_header_cannot_carry_is_refused(
    limit: str, name: str | None
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the limits package's message or ours
        parse_policy(limit, name)


def test_a_rate_limit_names_its_policies_in_its_repr() -> None:
    assert repr(RateLimit("1/second", cost=2)) == "RateLimit('1-per-second', cost=2)"


def test_an_unknown_strategy_or_a_timeout_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown rate-limit strategy 'leaky-bucket'"):
        RateLimit("1/second", strategy="leaky-bucket")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown rate-limit strategy"):
        RateLimiter(strategy="token-bucket")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive number of seconds, not 0"):
        RateLimiter(timeout=0)
