"""Under the plugin, the user loader's session is the test's, as SessionDep's is."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.auth.loader_app import Account


async def test_the_loader_sees_what_the_test_wrote(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession, auth_headers: Any
) -> None:
    fastapi_session.add(Account(id=7, name="carol"))
    await fastapi_session.commit()  # a savepoint of the test's transaction
    response = await fastapi_client.get("/me/accounts", headers=auth_headers("7"))
    assert response.json() == {"me": "carol", "names": ["carol"], "same_session": True}


async def test_the_endpoints_change_to_the_user_lands_in_the_tests_transaction(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession, auth_headers: Any
) -> None:
    fastapi_session.add(Account(id=7, name="carol"))
    await fastapi_session.commit()
    response = await fastapi_client.patch("/me", json={"name": "caro"}, headers=auth_headers("7"))
    assert response.status_code == 200
    fastapi_session.expire_all()
    assert (await fastapi_session.get_one(Account, 7)).name == "caro"


async def test_accounts_of_earlier_tests_are_gone(fastapi_session: AsyncSession) -> None:
    assert await fastapi_session.get(Account, 7) is None
