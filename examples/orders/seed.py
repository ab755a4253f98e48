"""Demo data: a customer, a staff member and a few products. Running it twice changes nothing.

``python -m examples.orders.seed`` fills the database named by ``FASTAPI_PRO_DATABASE__URL``
(``./app.db`` by default), as the service itself reads it; ``python -m examples.orders``
(``fastapi-pro demo``) seeds the demo's own database before serving.
"""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from examples.orders.database import complete_metadata
from examples.orders.modules.products.models import Product
from examples.orders.modules.products.repository import ProductRepository
from examples.orders.modules.users.models import Role
from examples.orders.modules.users.repository import UserRepository
from examples.orders.modules.users.schemas import UserCreate
from examples.orders.modules.users.service import UserService
from fastapi_pro import Settings
from fastapi_pro.auth import PasswordHasher
from fastapi_pro.db import Database

DEMO_USERS = (
    ("alice@example.com", "alice-password", Role.CUSTOMER),
    ("bob@example.com", "bob-password", Role.STAFF),
)
"""Email, password and role of each demo account (public: demo use only)."""

DEMO_PRODUCTS = (
    ("MUG-01", "Coffee mug", 1200),
    ("TEE-01", "T-shirt", 2500),
    ("STK-01", "Sticker pack", 400),
    ("CAP-01", "Cap", 1800),
)
"""SKU, name and price in cents of each demo product."""


async def seed(database: Database, hasher: PasswordHasher) -> list[str]:
    """Create the tables and whatever demo rows are missing; return what was added."""
    await database.create_all(complete_metadata())
    added: list[str] = []
    async with database.session() as session:
        users = UserService(UserRepository(session), hasher)
        for email, password, role in DEMO_USERS:
            if await users.users.by_email(email) is None:
                data = UserCreate(email=email, password=SecretStr(password))
                await users.register(data, role=role)
                added.append(f"user {email}")
        products = ProductRepository(session)
        for sku, name, price_cents in DEMO_PRODUCTS:
            if not await products.exists(sku=sku, include_deleted=True):
                await products.add(Product(sku=sku, name=name, price_cents=price_cents))
                added.append(f"product {sku}")
    return added


def how_to_log_in(base_url: str) -> str:
    """Instructions for trying the demo accounts."""
    accounts = "\n".join(
        f"  {email:<20} password {password:<16} role {role}" for email, password, role in DEMO_USERS
    )
    return (
        f"Demo accounts:\n{accounts}\n"
        f"Open {base_url}/docs, press Authorize and sign in with an email and its password, or:\n"
        f"  curl -d username=alice@example.com -d password=alice-password {base_url}/auth/token"
    )


async def main(
    settings: Settings | None = None, *, base_url: str = "http://127.0.0.1:8000"
) -> None:
    """Seed the database of ``settings`` (the environment by default) and say how to log in."""
    database = Database.from_settings((settings or Settings()).database)
    hasher = PasswordHasher()
    try:
        added = await seed(database, hasher)
    finally:
        hasher.close()
        await database.dispose()
    print(f"Seeded {database!r}: {', '.join(added) or 'nothing new'}.")
    print(how_to_log_in(base_url))


if __name__ == "__main__":
    asyncio.run(main())
