import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro.db import (
    Base,
    Database,
    Page,
    PageParamsDep,
    ReadConnectionDep,
    Repository,
    SoftDelete,
    SortField,
    Timestamps,
    UUIDPrimaryKey,
    Versioned,
    sort_params,
)
from fastapi_pro.errors import install_error_handlers


class Product(UUIDPrimaryKey, Timestamps, SoftDelete, Versioned, Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int]


class ProductRepository(Repository[Product]):
    async def by_sku(self, sku: str) -> Product:
        return await self.find_one(sku=sku)


def json_integer(value: object) -> object:
    if isinstance(value, bool | str):  # lax pydantic would read true as 1: the schema says no
        raise ValueError("Input should be a valid integer")
    return value


Cents = Annotated[int, Field(gt=0, le=10**9), BeforeValidator(json_integer)]


def omittable(**constraints: Any) -> Any:
    """A field a PATCH may leave out, but not set to null: its column is NOT NULL."""
    return Field(None, json_schema_extra=lambda schema: schema.pop("default"), **constraints)


class ProductIn(BaseModel):
    sku: str = Field(max_length=50)
    name: str = Field(max_length=200)
    price_cents: Cents


class ProductPatch(BaseModel):
    name: str = omittable(max_length=200)
    price_cents: Cents = omittable()
    # The version the client last saw; the column is a 4-byte integer.
    version: Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(json_integer)]


class ProductOut(ProductIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    version: int


Products = Annotated[ProductRepository, Depends(ProductRepository.for_request)]
ProductSort = Annotated[
    list[SortField], Depends(sort_params("name", "price_cents", "created_at", default="name"))
]

db = Database("sqlite+aiosqlite:///./products.db")
app = FastAPI(lifespan=db.lifespan)
install_error_handlers(app)


@app.post("/products", status_code=201)
async def create_product(body: ProductIn, products: Products) -> ProductOut:
    product = await products.add(Product(**body.model_dump()))
    return ProductOut.model_validate(product)  # committed before the response is sent


@app.get("/products")
async def list_products(
    products: Products, page: PageParamsDep, sort: ProductSort
) -> Page[ProductOut]:
    return await products.page(page, sort=sort, into=ProductOut)


@app.get("/products/{product_id}")
async def read_product(product_id: uuid.UUID, products: Products) -> ProductOut:
    return ProductOut.model_validate(await products.get(product_id))


@app.patch("/products/{product_id}")
async def update_product(
    product_id: uuid.UUID, body: ProductPatch, products: Products
) -> ProductOut:
    values = body.model_dump(exclude_unset=True, exclude={"version"})
    product = await products.update(product_id, values, expected_version=body.version)
    return ProductOut.model_validate(product)


@app.delete("/products/{product_id}", status_code=204)
async def delete_product(product_id: uuid.UUID, products: Products) -> None:
    await products.delete(product_id)  # soft delete: hidden from every read from now on


@app.get("/skus")
async def list_skus(read: ReadConnectionDep) -> list[str]:
    visible = select(Product.sku).where(Product.deleted_at.is_(None)).order_by(Product.sku)
    return list(await read.scalars(visible))
