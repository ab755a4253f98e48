from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_pro.db import (
    CountStrategy,
    CursorPage,
    CursorParams,
    Database,
    InvalidSortError,
    Page,
    PageParams,
    PageParamsDep,
    SortField,
    cursor_params,
    paginate_cursor,
    parse_sort,
    sort_params,
)
from fastapi_pro.db._pagination import _sort_schema
from fastapi_pro.errors import BadRequestError, install_error_handlers
from tests.db.conftest import StatementLog
from tests.db.models import Product, ProductRepository

STRATEGIES: list[CountStrategy] = ["subquery", "window", "exact", "none"]


async def seed(db: Database, count: int) -> None:
    async with db.session() as session:
        await ProductRepository(session).add_many(
            Product(sku=f"sku-{i:03}", name=f"name-{i % 4}", price=100 - i) for i in range(count)
        )


@pytest.mark.parametrize("count", STRATEGIES)
async def test_every_count_strategy_gives_the_same_page(db: Database, count: CountStrategy) -> None:
    await seed(db, 25)
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        sort = [SortField("price")]
        page = await repo.page(PageParams(limit=10, offset=10), sort=sort, count=count)

    assert [p.price for p in page.items] == list(range(86, 96))
    assert page.total == (None if count == "none" else 25)
    assert page.has_next is True
    assert (page.limit, page.offset) == (10, 10)


@pytest.mark.parametrize("count", ["subquery", "window"])
async def test_one_statement_strategies_send_one_statement(
    db: Database, sql: StatementLog, count: CountStrategy
) -> None:
    await seed(db, 30)
    sql.clear()
    async with db.sessionmaker() as session:
        page = await ProductRepository(session).page(PageParams(limit=10, offset=20), count=count)

    assert sql.count == 1
    assert page.total == 30
    assert page.has_next is False


@pytest.mark.parametrize("count", ["subquery", "window", "exact"])
async def test_a_page_past_the_end_still_reports_the_total(
    db: Database, count: CountStrategy
) -> None:
    await seed(db, 5)
    async with db.sessionmaker() as session:
        page = await ProductRepository(session).page(PageParams(limit=10, offset=50), count=count)

    assert page.items == []
    assert page.total == 5
    assert page.has_next is False


async def test_the_total_ignores_soft_deleted_rows(db: Database) -> None:
    await seed(db, 6)
    async with db.session() as session:
        await ProductRepository(session).delete_many(Product.price > 97)
    async with db.sessionmaker() as session:
        repo = ProductRepository(session)
        for count in STRATEGIES[:3]:
            page = await repo.page(PageParams(limit=2, offset=0), count=count)
            assert page.total == 3
            assert all(p.deleted_at is None for p in page.items)
        past_end = await repo.page(PageParams(limit=2, offset=10))
        assert past_end.total == 3


async def test_filters_apply_to_items_and_total(db: Database) -> None:
    await seed(db, 20)
    async with db.sessionmaker() as session:
        page = await ProductRepository(session).page(PageParams(limit=3), name="name-1")

    assert page.total == 5
    assert {p.name for p in page.items} == {"name-1"}


def test_sort_parsing_accepts_commas_and_repeats() -> None:
    allowed = ["created_at", "name", "price"]

    assert parse_sort(["-created_at,name", "price"], allowed) == [
        SortField("created_at", descending=True),
        SortField("name"),
        SortField("price"),
    ]


def test_a_field_named_again_keeps_its_first_direction() -> None:
    # Every value the OpenAPI enum allows is accepted, in any combination.
    assert parse_sort(["name", "-name,price", "name"], ["name", "price"]) == [
        SortField("name"),
        SortField("price"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["colour"], 'Cannot sort by "colour".'),
        (["a,b,c,d,e,f"], 'Cannot sort by "a"'),
        ([""], 'Cannot sort by "".'),
        (["name,"], 'Cannot sort by "".'),
        ([" name"], 'Cannot sort by " name".'),
        (["--name"], 'Cannot sort by "-name".'),
        (["+name"], 'Cannot sort by "+name".'),
    ],
)
def test_bad_sort_fields_are_a_400_listing_the_allowed_ones(
    values: list[str], message: str
) -> None:
    with pytest.raises(InvalidSortError) as raised:
        parse_sort(values, ["name", "price"])

    assert message in str(raised.value.detail)
    assert raised.value.code == "invalid_sort"
    assert raised.value.extensions == {"allowed": ["name", "price"]}
    assert "Sortable fields: name, price." in str(raised.value.detail)


def test_too_many_sort_fields_are_refused() -> None:
    with pytest.raises(InvalidSortError, match="At most 2"):
        parse_sort(["a,b,c"], ["a", "b", "c"], max_fields=2)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    price: int


ProductSort = Annotated[list[SortField], Depends(sort_params("price", "name", default="-price"))]
Cursor = Annotated[CursorParams, Depends(cursor_params(max_limit=50))]


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.get("/products")
    async def list_products(
        repo: Annotated[ProductRepository, Depends()], page: PageParamsDep, sort: ProductSort
    ) -> Page[ProductOut]:
        result = await repo.page(page, sort=sort)
        return Page[ProductOut].model_validate(result, from_attributes=True)

    @app.get("/feed")
    async def feed(
        repo: Annotated[ProductRepository, Depends()], cursor: Cursor, sort: ProductSort
    ) -> CursorPage[ProductOut]:
        result = await repo.cursor_page(cursor, sort=sort)
        return CursorPage[ProductOut].model_validate(result, from_attributes=True)

    return app


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(make_app(db)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_page_endpoint_sorts_and_counts(client: httpx.AsyncClient, db: Database) -> None:
    await seed(db, 12)

    default = (await client.get("/products?limit=3")).json()
    by_name = (await client.get("/products?limit=4&sort=name,-price")).json()

    assert [p["price"] for p in default["items"]] == [100, 99, 98]
    assert default["total"] == 12
    assert default["has_next"] is True
    assert [p["sku"] for p in by_name["items"]] == ["sku-000", "sku-004", "sku-008", "sku-001"]


@pytest.mark.parametrize(
    ("query", "pointer"),
    [("limit=0", "#/query/limit"), ("limit=101", "#/query/limit"), ("offset=-1", "#/query/offset")],
)
async def test_out_of_range_paging_is_a_422(
    client: httpx.AsyncClient, query: str, pointer: str
) -> None:
    response = await client.get(f"/products?{query}")

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == pointer


async def test_unknown_sort_field_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/products?sort=-secret_column")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_sort"
    assert response.json()["allowed"] == ["price", "name"]


async def test_sort_fields_appear_as_an_enum_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    [sort] = [p for p in schema["paths"]["/products"]["get"]["parameters"] if p["name"] == "sort"]

    one, several = sort["schema"]["items"]["anyOf"]
    assert one["enum"] == ["price", "-price", "name", "-name"]
    assert several["pattern"] == "^-?(?:price|name)(?:,-?(?:price|name))*$"


@pytest.mark.parametrize("value", ["name,-price", "-price", "price,name,price"])
def test_the_documented_sort_pattern_matches_what_is_accepted(value: str) -> None:
    pattern = _sort_pattern("price", "name")

    assert re.fullmatch(pattern.strip("^$"), value)
    assert parse_sort([value], ["price", "name"])


@pytest.mark.parametrize("value", ["", "name,", ",name", "name, price", "--name", "colour"])
def test_values_outside_the_documented_pattern_are_refused(value: str) -> None:
    assert not re.fullmatch(_sort_pattern("price", "name").strip("^$"), value)
    with pytest.raises(InvalidSortError):
        parse_sort([value], ["price", "name"])


def _sort_pattern(*fields: str) -> str:
    pattern: str = _sort_schema(fields)["anyOf"][1]["pattern"]
    return pattern


async def test_operations_with_sort_document_the_400(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    bad_request = schema["paths"]["/products"]["get"]["responses"]["400"]
    media = bad_request["content"]["application/problem+json"]

    assert media["schema"] == {"$ref": "#/components/schemas/ProblemDetail"}
    assert media["examples"]["invalid_sort"]["value"]["code"] == "invalid_sort"


async def test_cursor_pages_walk_every_row_once_in_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    await seed(db, 23)
    seen: list[tuple[str, int]] = []
    url = "/feed?limit=5&sort=name,-price"
    pages = 0
    while url:
        body = (await client.get(url)).json()
        seen.extend((p["name"], p["price"]) for p in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        url = f"/feed?limit=5&sort=name,-price&cursor={cursor}" if cursor else ""
        assert body["has_next"] is bool(cursor)

    assert pages == 5
    assert len(seen) == 23
    assert seen == sorted(seen, key=lambda row: (row[0], -row[1]))


def tamper(cursor: str) -> str:
    body, mac = cursor.split(".")
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    values[0] = "name-0"
    forged = base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


async def test_bad_cursors_are_a_400_problem(client: httpx.AsyncClient, db: Database) -> None:
    await seed(db, 8)
    cursor = (await client.get("/feed?limit=2&sort=name")).json()["next_cursor"]

    for bad in [
        tamper(cursor),
        "not-a-cursor",
        "%%%.%%%",
        cursor + "x",
        "e30.AAAA",
        "\u00e9\u00e9.\u00e9",
    ]:
        response = await client.get("/feed", params={"cursor": bad, "sort": "name"})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_cursor"

    other_order = await client.get("/feed", params={"cursor": cursor, "sort": "-price"})
    assert other_order.status_code == 400


async def test_cursor_of_the_right_shape_but_wrong_types_is_a_400(session: AsyncSession) -> None:
    key = b"k" * 32
    params = CursorParams(limit=2)
    statement = ProductRepository(session).select()
    order: list[tuple[Any, bool]] = [(Product.price, False), (Product.id, False)]
    await paginate_cursor(session, statement, params, order=order, key=key)
    from fastapi_pro.db._cursor import _Codec  # noqa: PLC0415 - forging needs the codec

    forged = _Codec(key, "products.price,products.id").encode(["cheap", "not-a-uuid"])
    with pytest.raises(BadRequestError):
        await paginate_cursor(
            session, statement, CursorParams(cursor=forged, limit=2), order=order, key=key
        )


async def test_keyset_on_a_nullable_column_is_refused(session: AsyncSession) -> None:
    statement = ProductRepository(session).select()
    with pytest.raises(ValueError, match="nullable"):
        await paginate_cursor(
            session, statement, CursorParams(), order=[(Product.code, False), (Product.id, False)]
        )


async def test_grouped_statements_are_counted_as_subqueries(db: Database) -> None:
    from sqlalchemy import select  # noqa: PLC0415 - this test builds its own statement

    from fastapi_pro.db import paginate  # noqa: PLC0415

    await seed(db, 12)
    async with db.sessionmaker() as session:
        statement = select(Product.name).group_by(Product.name).order_by(Product.name)
        for count in STRATEGIES[:3]:
            page = await paginate(session, statement, PageParams(limit=3), count=count)
            assert page.total == 4
            assert page.items == ["name-0", "name-1", "name-2"]


@pytest.mark.parametrize("field", ["featured", "stage"])
async def test_keyset_pages_over_boolean_and_enum_columns(db: Database, field: str) -> None:
    from tests.db.models import Stage  # noqa: PLC0415 - the enum of this test's column

    async with db.session() as session:
        await ProductRepository(session).add_many(
            {
                "sku": f"k-{i}",
                "name": "n",
                "price": i + 1,
                "featured": i % 2 == 0,
                "stage": Stage.live if i % 3 else Stage.draft,
            }
            for i in range(7)
        )
    seen: list[str] = []
    cursor: str | None = None
    async with db.sessionmaker() as session:
        for _ in range(10):
            page = await ProductRepository(session).cursor_page(
                CursorParams(cursor=cursor, limit=2), sort=[SortField(field)]
            )
            seen.extend(p.sku for p in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break

    assert sorted(seen) == sorted(f"k-{i}" for i in range(7))
    assert len(seen) == 7


async def test_operations_with_a_repository_document_its_problems_and_the_sessions(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/products"]["get"]["responses"]

    def codes(status: str) -> set[str]:
        return set(responses[status]["content"]["application/problem+json"]["examples"])

    assert codes("404") == {"not_found"}
    assert codes("409") == {"stale_version", "unique_violation", "foreign_key_violation"}
    assert codes("503") == {"database_unavailable", "transaction_conflict"}
    assert {"integrity_violation", "invalid_value"} <= codes("422")
