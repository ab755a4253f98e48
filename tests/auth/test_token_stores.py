from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

import pytest

from fastapi_pro.auth._redis_store import RedisTokenStore
from fastapi_pro.auth._sql_store import SqlTokenStore
from fastapi_pro.auth._store import TokenStore
from fastapi_pro.db import Base, Database, utcnow
from tests.auth.conftest import RedisTokenStoreFactory

if TYPE_CHECKING:
    from redis.asyncio import Redis

SHORT = 0.25
"""Seconds a short-lived family or denial lasts."""
PAST_SHORT = 0.4
"""Seconds to sleep for a short-lived entry to have expired."""


def later(seconds: float = 60) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


async def rotate_concurrently(stores: list[TokenStore], calls: int) -> list[str]:
    await stores[0].start_family("f1", "alice", "t1", later())
    return list(
        await asyncio.gather(
            *(stores[i % len(stores)].rotate("f1", "t1", f"t2-{i}", later()) for i in range(calls))
        )
    )


# -- rotation ------------------------------------------------------------------------------------


async def test_rotating_the_current_token_rotates(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())

    assert await token_store.rotate("f1", "t1", "t2", later()) == "rotated"


async def test_the_new_token_is_the_one_that_rotates_next(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.rotate("f1", "t1", "t2", later())

    assert await token_store.rotate("f1", "t2", "t3", later()) == "rotated"


async def test_rotating_a_replaced_token_reports_reuse(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.rotate("f1", "t1", "t2", later())

    assert await token_store.rotate("f1", "t1", "t3", later()) == "reused"


async def test_reuse_revokes_the_family_so_its_current_token_is_refused(
    token_store: TokenStore,
) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.rotate("f1", "t1", "t2", later())
    await token_store.rotate("f1", "t1", "t3", later())

    assert await token_store.rotate("f1", "t2", "t4", later()) == "revoked"


async def test_a_replayed_token_is_refused_as_revoked_once_reuse_was_found(
    token_store: TokenStore,
) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.rotate("f1", "t1", "t2", later())
    await token_store.rotate("f1", "t1", "t3", later())

    assert await token_store.rotate("f1", "t1", "t4", later()) == "revoked"


async def test_an_unknown_family_is_revoked(token_store: TokenStore) -> None:
    assert await token_store.rotate("unknown", "t1", "t2", later()) == "revoked"


async def test_a_family_past_its_expiry_is_revoked(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later(SHORT))
    await asyncio.sleep(PAST_SHORT)

    assert await token_store.rotate("f1", "t1", "t2", later()) == "revoked"


async def test_rotation_extends_the_family_to_the_new_expiry(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later(SHORT))
    await token_store.rotate("f1", "t1", "t2", later())
    await asyncio.sleep(PAST_SHORT)

    assert await token_store.rotate("f1", "t2", "t3", later()) == "rotated"


async def test_concurrent_rotations_of_one_token_rotate_exactly_once(
    token_store: TokenStore,
) -> None:
    results = await rotate_concurrently([token_store], 10)

    assert results.count("rotated") == 1
    assert set(results) - {"rotated"} <= {"reused", "revoked"}


# -- revocation ----------------------------------------------------------------------------------


async def test_a_revoked_family_refuses_its_current_token(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())

    await token_store.revoke_family("f1")

    assert await token_store.rotate("f1", "t1", "t2", later()) == "revoked"


async def test_revoking_a_family_leaves_the_others_alone(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.start_family("f2", "alice", "u1", later())

    await token_store.revoke_family("f1")

    assert await token_store.rotate("f2", "u1", "u2", later()) == "rotated"


async def test_revoking_an_unknown_family_does_nothing(token_store: TokenStore) -> None:
    await token_store.revoke_family("unknown")

    assert await token_store.revoke_subject("alice") == 0


async def test_revoke_subject_revokes_every_family_of_the_subject_and_counts_them(
    token_store: TokenStore,
) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.start_family("f2", "alice", "u1", later())

    revoked = await token_store.revoke_subject("alice")

    assert revoked == 2
    assert await token_store.rotate("f1", "t1", "t2", later()) == "revoked"
    assert await token_store.rotate("f2", "u1", "u2", later()) == "revoked"


async def test_revoke_subject_leaves_other_subjects_alone(token_store: TokenStore) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.start_family("f2", "bob", "u1", later())

    assert await token_store.revoke_subject("alice") == 1
    assert await token_store.rotate("f2", "u1", "u2", later()) == "rotated"


async def test_revoke_subject_does_not_count_families_already_revoked(
    token_store: TokenStore,
) -> None:
    await token_store.start_family("f1", "alice", "t1", later())
    await token_store.start_family("f2", "alice", "u1", later())
    await token_store.revoke_family("f1")

    assert await token_store.revoke_subject("alice") == 1
    assert await token_store.revoke_subject("alice") == 0


async def test_revoke_subject_reaches_a_family_that_rotation_kept_alive(
    token_store: TokenStore,
) -> None:
    await token_store.start_family("f1", "alice", "t1", later(SHORT))
    await token_store.rotate("f1", "t1", "t2", later())
    await asyncio.sleep(PAST_SHORT)

    assert await token_store.revoke_subject("alice") == 1
    assert await token_store.rotate("f1", "t2", "t3", later()) == "revoked"


# -- denylist ------------------------------------------------------------------------------------


async def test_a_denied_token_is_denied(token_store: TokenStore) -> None:
    await token_store.deny("jti-1", later())

    assert await token_store.is_denied("jti-1") is True


async def test_a_token_never_denied_is_not_denied(token_store: TokenStore) -> None:
    await token_store.deny("jti-1", later())

    assert await token_store.is_denied("jti-2") is False


async def test_a_denial_already_expired_is_not_denied(token_store: TokenStore) -> None:
    await token_store.deny("jti-1", utcnow() - timedelta(seconds=1))

    assert await token_store.is_denied("jti-1") is False


async def test_a_denial_lapses_at_its_expiry(token_store: TokenStore) -> None:
    await token_store.deny("jti-1", later(SHORT))
    assert await token_store.is_denied("jti-1") is True

    await asyncio.sleep(PAST_SHORT)

    assert await token_store.is_denied("jti-1") is False


# -- Redis: one store shared by every process ----------------------------------------------------


@pytest.mark.redis
async def test_redis_stores_on_separate_clients_see_each_others_family_revocations(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    first, second = redis_token_stores(), redis_token_stores()
    await first.start_family("f1", "alice", "t1", later())

    await second.revoke_family("f1")

    assert await first.rotate("f1", "t1", "t2", later()) == "revoked"


@pytest.mark.redis
async def test_redis_stores_on_separate_clients_see_each_others_subject_revocations(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    first, second = redis_token_stores(), redis_token_stores()
    await first.start_family("f1", "alice", "t1", later())

    assert await second.revoke_subject("alice") == 1
    assert await first.rotate("f1", "t1", "t2", later()) == "revoked"


@pytest.mark.redis
async def test_redis_stores_on_separate_clients_see_each_others_reuse_detection(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    first, second = redis_token_stores(), redis_token_stores()
    await first.start_family("f1", "alice", "t1", later())
    await first.rotate("f1", "t1", "t2", later())

    assert await second.rotate("f1", "t1", "t3", later()) == "reused"
    assert await first.rotate("f1", "t2", "t4", later()) == "revoked"


@pytest.mark.redis
async def test_redis_stores_on_separate_clients_see_each_others_denials(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    first, second = redis_token_stores(), redis_token_stores()

    await second.deny("jti-1", later())

    assert await first.is_denied("jti-1") is True


@pytest.mark.redis
async def test_concurrent_rotations_through_separate_redis_clients_rotate_exactly_once(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    stores: list[TokenStore] = [redis_token_stores() for _ in range(3)]

    results = await rotate_concurrently(stores, 12)

    assert results.count("rotated") == 1


@pytest.mark.redis
async def test_redis_keys_expire_with_their_families_and_denials(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    store = redis_token_stores()
    await store.start_family("f1", "alice", "t1", later(SHORT))
    await store.start_family("f2", "bob", "u1", later(SHORT))
    await store.rotate("f2", "u1", "u2", later(SHORT))
    await store.revoke_family("f1")
    await store.deny("jti-1", later(SHORT))
    assert [key async for key in store.client.scan_iter(match=f"{store.prefix}*")]

    await asyncio.sleep(PAST_SHORT)

    assert [key async for key in store.client.scan_iter(match=f"{store.prefix}*")] == []


@pytest.mark.redis
async def test_revoking_an_unknown_redis_family_writes_no_key(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    store = redis_token_stores()

    await store.revoke_family("unknown")

    assert [key async for key in store.client.scan_iter(match=f"{store.prefix}*")] == []


@pytest.mark.redis
async def test_redis_store_works_on_a_client_that_decodes_responses(
    redis_token_stores: RedisTokenStoreFactory,
) -> None:
    store = redis_token_stores(decode_responses=True)
    await store.start_family("f1", "alice", "t1", later())
    await store.deny("jti-1", later())

    assert await store.rotate("f1", "t1", "t2", later()) == "rotated"
    assert await store.rotate("f1", "t1", "t3", later()) == "reused"
    assert await store.revoke_subject("alice") == 0
    assert await store.is_denied("jti-1") is True


def test_redis_store_without_redis_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)

    with pytest.raises(ImportError, match=r'pip install "fastapi-pro\[redis\]"'):
        RedisTokenStore(cast("Redis", object()))


def test_importing_the_redis_store_does_not_import_redis() -> None:
    code = "import sys, fastapi_pro.auth._redis_store; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


# -- SQL: tables of their own, one transaction per operation -------------------------------------


def test_sql_store_tables_live_on_their_own_metadata() -> None:
    tables = set(SqlTokenStore.metadata.tables)

    assert tables == {"fastapi_pro_refresh_families", "fastapi_pro_denied_tokens"}
    assert not tables & set(Base.metadata.tables)


async def test_sql_store_create_tables_keeps_existing_rows(
    sql_token_store_databases: Callable[[], Database],
) -> None:
    store = SqlTokenStore(sql_token_store_databases())
    await store.start_family("f1", "alice", "t1", later())

    await store.create_tables()

    assert await store.rotate("f1", "t1", "t2", later()) == "rotated"


async def test_concurrent_rotations_through_separate_sql_engines_rotate_exactly_once(
    sql_token_store_databases: Callable[[], Database],
) -> None:
    stores: list[TokenStore] = [SqlTokenStore(sql_token_store_databases()) for _ in range(2)]

    results = await rotate_concurrently(stores, 10)

    assert results.count("rotated") == 1


async def test_sql_stores_on_separate_engines_see_each_others_revocations(
    sql_token_store_databases: Callable[[], Database],
) -> None:
    first = SqlTokenStore(sql_token_store_databases())
    second = SqlTokenStore(sql_token_store_databases())
    await first.start_family("f1", "alice", "t1", later())

    await second.revoke_family("f1")

    assert await first.rotate("f1", "t1", "t2", later()) == "revoked"


async def test_the_in_memory_store_forgets_expired_families() -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415 - local to this check

    from fastapi_pro.auth import InMemoryTokenStore  # noqa: PLC0415

    store = InMemoryTokenStore()
    past = datetime.now(UTC) - timedelta(seconds=1)
    future = datetime.now(UTC) + timedelta(hours=1)
    for i in range(1024):
        await store.start_family(f"old-{i}", "alice", "t", past)
    await store.start_family("new", "alice", "t", future)

    assert len(store._families) == 1
    assert await store.rotate("new", "t", "t2", future) == "rotated"
