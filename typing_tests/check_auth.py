"""Static checks of the auth aliases: mypy must accept this file."""

from dataclasses import dataclass
from typing import assert_type

from fastapi_pro.auth import (
    CurrentPrincipal,
    CurrentUser,
    OptionalPrincipal,
    OptionalUser,
    Principal,
)


@dataclass
class User:
    name: str


async def route(
    user: CurrentUser[User],
    maybe_user: OptionalUser[User],
    principal: CurrentPrincipal,
    maybe_principal: OptionalPrincipal,
) -> None:
    assert_type(user, User)
    assert_type(maybe_user, User | None)
    assert_type(principal, Principal)
    assert_type(maybe_principal, Principal | None)
