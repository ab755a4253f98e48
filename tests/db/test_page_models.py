"""Pages of ORM rows: valid annotations, refused response models, named serialisation errors."""

# No `from __future__ import annotations`: the annotations below are evaluated at runtime, as
# FastAPI and code without that import evaluate them.

import logging
import typing
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict

from fastapi_pro.db import (
    CursorPage,
    CursorParams,
    Database,
    Page,
    PageParams,
    PageParamsDep,
    SortField,
    cursor_params,
)
from fastapi_pro.errors import install_error_handlers
from tests.db.models import Product, ProductRepository

Products = Annotated[ProductRepository, Depends()]
Cursor = Annotated[CursorParams, Depends(cursor_params())]


class ProductOut(BaseModel, from_attributes=True):
    sku: str
    price: int


class Shelf:
    """A plain class: no pydantic schema, not mapped."""


async def rows(repo: ProductRepository, params: PageParams) -> Page[Product]:
    return await repo.page(params, sort=[SortField("sku")])


def test_a_page_of_a_mapped_class_is_a_valid_annotation() -> None:
    hints = typing.get_type_hints(rows)

    assert hints["return"] is Page[Product]
    assert CursorPage[Product].__name__ == "CursorPage[Product]"


def test_a_page_of_a_mapped_class_holds_rows() -> None:
    product = Product(sku="a", name="a", price=1)

    page = Page[Product](items=[product], total=1, limit=1, offset=0, has_next=False)

    assert page.items == [product]


@pytest.mark.parametrize("page", [Page, CursorPage], ids=["Page", "CursorPage"])
def test_a_page_of_a_mapped_class_as_response_model_fails_at_declaration(page: type) -> None:
    app = FastAPI()

    with pytest.raises(TypeError) as caught:
        app.get("/products")(_returning(page[Product]))

    assert str(caught.value) == (
        f"{page.__name__}[Product] cannot be a response model or a field: Product is a "
        "SQLAlchemy model, not a response schema; declare `class ProductOut(BaseModel, "
        f"from_attributes=True)` with the fields to expose and annotate "
        f"`-> {page.__name__}[ProductOut]`; the returned Product rows are then converted."
    )


def test_a_mapped_class_as_response_model_fails_at_declaration() -> None:
    app = FastAPI()

    with pytest.raises(TypeError, match=r"annotate `-> ProductOut`"):
        app.get("/product")(_returning(Product))


def test_a_page_of_a_class_without_schema_still_fails_at_declaration() -> None:
    app = FastAPI()

    with pytest.raises(TypeError, match=r"Shelf has no pydantic schema"):
        app.get("/shelves")(_returning(Page[Shelf]))


def test_models_allowing_arbitrary_types_still_hold_rows() -> None:
    class Holder(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        product: Product

    product = Product(sku="a", name="a", price=1)

    assert Holder(product=product).product is product


def _returning(annotation: object) -> typing.Callable[[], typing.Awaitable[None]]:
    async def endpoint() -> None:
        return None

    endpoint.__annotations__["return"] = annotation
    return endpoint


def make_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    install_error_handlers(app)

    @app.get("/products")
    async def list_products(repo: Products, page: PageParamsDep) -> Page[ProductOut]:
        return await repo.page(page, sort=[SortField("sku")])

    @app.get("/feed")
    async def feed(repo: Products, cursor: Cursor) -> CursorPage[ProductOut]:
        return await repo.cursor_page(cursor, sort=[SortField("sku")])

    @app.get("/raw", response_model=None)
    async def raw(repo: Products, page: PageParamsDep) -> object:
        return await repo.page(page, sort=[SortField("sku")])

    return app


async def get(db: Database, path: str) -> httpx.Response:
    async with db.session() as session:
        await ProductRepository(session).add_many(
            Product(sku=f"sku-{i}", name="n", price=10 + i) for i in range(3)
        )
    async with LifespanManager(make_app(db)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)


async def test_a_route_returns_the_repository_page_and_fastapi_converts_the_rows(
    db: Database,
) -> None:
    response = await get(db, "/products?limit=2")

    assert response.status_code == 200
    assert response.json() == {
        "items": [{"sku": "sku-0", "price": 10}, {"sku": "sku-1", "price": 11}],
        "total": 3,
        "limit": 2,
        "offset": 0,
        "has_next": True,
    }


async def test_a_route_returns_the_repository_cursor_page_and_fastapi_converts_the_rows(
    db: Database,
) -> None:
    response = await get(db, "/feed?limit=2")

    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [{"sku": "sku-0", "price": 10}, {"sku": "sku-1", "price": 11}]
    assert body["has_next"] is True


async def test_a_page_of_rows_without_response_model_is_a_500_naming_the_fix(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)

    response = await get(db, "/raw")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_server_error"
    assert "ProductOut" not in response.text  # the fix is for the log, not the client
    logged = "\n".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert "This Page holds Product rows, which have no JSON form" in logged
    assert "annotate `-> Page[ProductOut]`" in logged


def test_a_page_of_a_model_holding_arbitrary_types_is_declared_as_before() -> None:
    class Labelled(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        shelf: Shelf

    app = FastAPI()
    app.get("/labelled")(_returning(Page[Labelled]))

    assert [route.path for route in app.routes][-1] == "/labelled"
