from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examples.orders.modules.users.models import Role, User
from fastapi_pro.testing import ActAs, assert_problem
from tests.examples.orders.helpers import PASSWORD, HeadersFor, UserFactory


async def test_registration_creates_a_customer_and_never_echoes_the_password(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession
) -> None:
    response = await fastapi_client.post(
        "/users", json={"email": "Dana@Example.com", "password": "a long password"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "dana@example.com"
    assert body["role"] == "customer"
    assert "password" not in response.text
    assert "a long password" not in response.text
    stored = await fastapi_session.scalar(select(User).where(User.id == body["id"]))
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")


async def test_a_taken_email_is_a_409_problem_whatever_its_case(
    fastapi_client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    await make_user(email="erin@example.com")

    response = await fastapi_client.post(
        "/users", json={"email": "ERIN@example.com", "password": "another password"}
    )

    assert_problem(response, 409, code="email_taken", fields=["email"])


async def test_a_short_password_is_refused_without_echoing_it(
    fastapi_client: httpx.AsyncClient,
) -> None:
    response = await fastapi_client.post(
        "/users", json={"email": "fay@example.com", "password": "s3cr3t!"}
    )

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["pointer"] == "#/body/password"
    assert "s3cr3t!" not in response.text


async def test_login_issues_a_token_that_reads_the_callers_own_profile(
    fastapi_client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(email="gus@example.com")

    login = await fastapi_client.post(
        "/auth/token", data={"username": "gus@example.com", "password": PASSWORD}
    )
    token = login.json()["access_token"]
    me = await fastapi_client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert login.status_code == 200
    assert login.json()["token_type"] == "bearer"
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "email": "gus@example.com",
        "role": "customer",
        "created_at": me.json()["created_at"],
    }


async def test_a_staff_login_carries_the_staff_role(
    fastapi_client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    await make_user(Role.STAFF, email="hal@example.com")
    login = await fastapi_client.post(
        "/auth/token", data={"username": "hal@example.com", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    created = await fastapi_client.post(
        "/products", json={"sku": "HAL-1", "name": "Lamp", "price_cents": 100}, headers=headers
    )

    assert created.status_code == 201


async def test_a_staff_member_moved_to_customer_loses_the_role_at_the_next_refresh(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession, make_user: UserFactory
) -> None:
    user = await make_user(Role.STAFF, email="kim@example.com")
    login = await fastapi_client.post(
        "/auth/token", data={"username": "kim@example.com", "password": PASSWORD}
    )
    user.role = Role.CUSTOMER
    await fastapi_session.commit()

    refreshed = await fastapi_client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": login.json()["refresh_token"]},
    )
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    created = await fastapi_client.post(
        "/products", json={"sku": "KIM-1", "name": "Desk", "price_cents": 100}, headers=headers
    )

    assert_problem(created, 403)


async def test_a_deleted_account_cannot_refresh(
    fastapi_client: httpx.AsyncClient, fastapi_session: AsyncSession, make_user: UserFactory
) -> None:
    user = await make_user(email="lee@example.com")
    login = await fastapi_client.post(
        "/auth/token", data={"username": "lee@example.com", "password": PASSWORD}
    )
    await fastapi_session.delete(user)
    await fastapi_session.commit()

    refreshed = await fastapi_client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": login.json()["refresh_token"]},
    )

    assert_problem(refreshed, 400, code="invalid_grant")


async def test_a_wrong_password_and_an_unknown_email_fail_alike(
    fastapi_client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    await make_user(email="ivy@example.com")

    wrong = await fastapi_client.post(
        "/auth/token", data={"username": "ivy@example.com", "password": "not it at all"}
    )
    unknown = await fastapi_client.post(
        "/auth/token", data={"username": "nobody@example.com", "password": PASSWORD}
    )

    assert_problem(wrong, 400, code="invalid_grant")
    assert_problem(unknown, 400, code="invalid_grant")
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_me_without_a_token_is_a_401_problem(fastapi_client: httpx.AsyncClient) -> None:
    response = await fastapi_client.get("/users/me")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_of_a_deleted_account_is_refused(
    fastapi_client: httpx.AsyncClient,
    fastapi_session: AsyncSession,
    make_user: UserFactory,
    headers_for: HeadersFor,
) -> None:
    user = await make_user()
    headers = headers_for(user)
    await fastapi_session.delete(user)
    await fastapi_session.commit()

    response = await fastapi_client.get("/users/me", headers=headers)

    assert_problem(response, 401, code="invalid_token")


async def test_acting_as_a_user_needs_no_token(
    fastapi_client: httpx.AsyncClient, act_as: ActAs, make_user: UserFactory
) -> None:
    user = await make_user(email="jo@example.com")
    act_as(user, roles=[Role.CUSTOMER.value])

    response = await fastapi_client.get("/users/me")

    assert response.json()["email"] == "jo@example.com"
