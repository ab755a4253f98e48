"""Request and response bodies of the users module."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from examples.orders.modules.users.models import Role

Email = Annotated[
    str,
    Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["alice@example.com"]),
    AfterValidator(str.lower),
]
"""An email address, compared without regard to case."""


class UserCreate(BaseModel):
    """A registration: new accounts are customers."""

    email: Email
    password: SecretStr = Field(min_length=8, max_length=1024)


class UserOut(BaseModel):
    """An account as others see it: never its password or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    created_at: datetime
