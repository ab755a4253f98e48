"""``POST /users`` (registration) and ``GET /users/me``; login is ``POST /auth/token``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from examples.orders.modules.users.models import User
from examples.orders.modules.users.schemas import UserCreate, UserOut
from examples.orders.modules.users.service import EmailTakenError, UserService
from fastapi_pro.auth import CurrentUser
from fastapi_pro.errors import problem_responses

router = APIRouter(prefix="/users", tags=["users"])

Users = Annotated[UserService, Depends(UserService.for_request)]


@router.post("", status_code=201, responses=problem_responses(EmailTakenError))
async def register(data: UserCreate, users: Users) -> UserOut:
    """Create a customer account; sign in at ``POST /auth/token`` afterwards."""
    return UserOut.model_validate(await users.register(data))


@router.get("/me")
async def me(user: CurrentUser[User]) -> UserOut:
    """The signed-in account."""
    return UserOut.model_validate(user)
