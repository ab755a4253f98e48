"""Data access for users."""

from __future__ import annotations

from examples.orders.modules.users.models import User
from fastapi_pro.db import Repository


class UserRepository(Repository[User]):
    """`Repository` over ``users``, plus the lookup that login needs."""

    async def by_email(self, email: str) -> User | None:
        """Return the account with this (lower-case) email address, or ``None``."""
        return await self.find_one_or_none(email=email.lower())
