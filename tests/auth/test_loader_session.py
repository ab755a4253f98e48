"""A user loader that takes a session reads the user in the request's own unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event

from fastapi_pro.auth import Auth, Key, KeyRing, Principal, Tokens
from fastapi_pro.db import Database
from tests.auth.loader_app import (
    SECRET,
    Account,
    Model,
    bearer,
    hand_wired,
    load_account,
    with_setup,
)
from tests.servers import in_process


@dataclass
class Traffic:
    """Pool checkouts and statements (all of them, transaction control included)."""

    checkouts: int = 0
    statements: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.checkouts = 0
        self.statements.clear()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5, max_overflow=5)
    async with database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all)
        await connection.run_sync(Model.metadata.create_all)
    async with database.session() as session:
        session.add_all([Account(id=1, name="alice"), Account(id=2, name="bob")])
    yield database
    await database.dispose()


@pytest.fixture
def traffic(database: Database) -> Iterator[Traffic]:
    seen = Traffic()

    def checkout(*_: Any) -> None:
        seen.checkouts += 1

    def statement(*args: Any) -> None:
        seen.statements.append(args[2])

    engine = database.engine.sync_engine
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "before_cursor_execute", statement)
    yield seen
    event.remove(engine, "checkout", checkout)
    event.remove(engine, "before_cursor_execute", statement)


async def name_of(database: Database, account_id: int) -> str:
    async with database.session() as session:
        return (await session.get_one(Account, account_id)).name


@pytest.mark.parametrize("wiring", [hand_wired, with_setup])
async def test_an_authenticated_request_checks_out_one_connection(
    database: Database, traffic: Traffic, wiring: Any
) -> None:
    async with in_process(wiring(database)) as client:
        traffic.clear()
        anonymous = await client.get("/accounts")
        anonymous_statements = len(traffic.statements)
        assert (anonymous.status_code, traffic.checkouts) == (200, 1)
        traffic.clear()
        response = await client.get("/me/accounts", headers=bearer("1"))
    assert response.json() == {"me": "alice", "names": ["alice", "bob"], "same_session": True}
    assert traffic.checkouts == 1
    assert len(traffic.statements) == anonymous_statements + 1  # the user's SELECT, no more


async def test_the_loader_joins_a_session_the_endpoint_opened_first(
    database: Database, traffic: Traffic
) -> None:
    async with in_process(hand_wired(database)) as client:
        traffic.clear()
        response = await client.get("/me/session-first", headers=bearer("2"))
    assert response.json() == {"me": "bob", "same_session": True}
    assert traffic.checkouts == 1


async def test_changes_to_the_loaded_user_are_committed_with_the_request(
    database: Database,
) -> None:
    async with in_process(hand_wired(database)) as client:
        response = await client.patch("/me", json={"name": "alicia"}, headers=bearer("1"))
    assert response.status_code == 200
    assert await name_of(database, 1) == "alicia"


async def test_changes_to_the_loaded_user_are_rolled_back_when_the_endpoint_fails(
    database: Database,
) -> None:
    async with in_process(hand_wired(database)) as client:
        response = await client.patch("/me/then-fail", json={"name": "x"}, headers=bearer("1"))
    assert response.status_code == 409
    assert await name_of(database, 1) == "alice"


async def test_an_anonymous_optional_user_touches_no_connection(
    database: Database, traffic: Traffic
) -> None:
    async with in_process(hand_wired(database)) as client:
        traffic.clear()
        anonymous = await client.get("/maybe")
        assert (anonymous.json(), traffic.checkouts) == ({"me": None}, 0)
        known = await client.get("/maybe", headers=bearer("2"))
    assert (known.json(), traffic.checkouts) == ({"me": "bob"}, 1)


async def test_an_unknown_user_is_a_401_and_its_connection_returns(
    database: Database, traffic: Traffic
) -> None:
    async with in_process(hand_wired(database)) as client:
        response = await client.get("/me/accounts", headers=bearer("99"))
    assert response.status_code == 401
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_loader_of_the_principal_alone_still_works(
    database: Database, traffic: Traffic
) -> None:
    async def load_alone(principal: Principal) -> Account | None:
        async with database.session() as session:
            return await session.get(Account, int(principal.subject))

    async with in_process(hand_wired(database, load_alone)) as client:
        traffic.clear()
        response = await client.get("/me/accounts", headers=bearer("1"))
    assert response.json()["me"] == "alice"
    assert response.json()["same_session"] is False
    assert traffic.checkouts == 2  # its own unit of work, then the endpoint's


async def test_outside_a_request_the_loader_gets_a_session_of_its_own(
    database: Database,
) -> None:
    tokens = Tokens(KeyRing(Key.hmac(SECRET)))
    auth = Auth(tokens, user_loader=load_account, request_session=database.request_session)
    user = await auth.load_user(Principal(subject="2"))
    assert user.name == "bob"


def test_a_loader_that_takes_a_session_needs_somewhere_to_open_it() -> None:
    with pytest.raises(ValueError, match=r"request_session=database\.request_session"):
        Auth(Tokens(KeyRing(Key.hmac(SECRET))), user_loader=load_account)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_64_concurrent_users_share_a_10_connection_pool(
    database: Database, traffic: Traffic
) -> None:
    async with in_process(hand_wired(database)) as client:
        traffic.clear()
        requests = [client.get("/busy", headers=bearer(str(1 + n % 2))) for n in range(64)]
        responses = await asyncio.gather(*requests)
    assert [response.status_code for response in responses] == [200] * 64
    assert traffic.checkouts == 64
