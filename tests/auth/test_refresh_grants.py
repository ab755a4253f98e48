"""A refresh re-checks the identity: deleted users are refused, demoted ones lose grants."""

from __future__ import annotations

import pytest

from fastapi_pro.auth import Auth, InvalidTokenError, Principal
from tests.auth.helpers import make_tokens

GRANTED = Principal("alice", scopes=frozenset({"a", "b"}), roles=frozenset({"admin", "user"}))


async def test_a_refresh_takes_todays_grants_and_never_widens_them() -> None:
    async def reload(principal: Principal) -> Principal:
        return Principal(
            principal.subject, scopes=frozenset({"a", "b", "c"}), roles=frozenset({"user"})
        )

    auth = Auth(make_tokens(), reload_principal=reload)
    pair = await auth.refresh((await auth.login(GRANTED)).refresh_token)

    access = await auth.authenticate(pair.access_token)
    assert access.roles == {"user"}  # demoted: the admin role is gone at once
    assert access.scopes == {"a", "b"}  # "c" was never granted to this session
    again = await auth.authenticate((await auth.refresh(pair.refresh_token)).access_token)
    assert again.roles == {"user"}


@pytest.mark.parametrize("answer", [None, Principal("mallory")])
async def test_a_refused_identity_ends_the_session(answer: Principal | None) -> None:
    async def reload(_: Principal) -> Principal | None:
        return answer

    auth = Auth(make_tokens(), reload_principal=reload)
    refresh_token = (await auth.login(GRANTED)).refresh_token
    with pytest.raises(InvalidTokenError):
        await auth.refresh(refresh_token)


async def test_without_a_reloader_a_user_the_loader_no_longer_finds_cannot_refresh() -> None:
    users = {"alice"}

    async def load_user(principal: Principal) -> str | None:
        return principal.subject if principal.subject in users else None

    auth = Auth(make_tokens(), user_loader=load_user)
    pair = await auth.refresh((await auth.login(GRANTED)).refresh_token)
    assert (await auth.authenticate(pair.access_token)).roles == GRANTED.roles
    users.clear()
    with pytest.raises(InvalidTokenError):
        await auth.refresh(pair.refresh_token)


async def test_without_loader_or_reloader_a_refresh_keeps_the_grants() -> None:
    auth = Auth(make_tokens())
    pair = await auth.refresh((await auth.login(GRANTED)).refresh_token)
    access = await auth.authenticate(pair.access_token)
    assert (access.scopes, access.roles) == (GRANTED.scopes, GRANTED.roles)


async def test_a_failed_reload_leaves_the_refresh_token_usable() -> None:
    calls = 0

    async def reload(principal: Principal) -> Principal:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the user database is down")
        return principal

    auth = Auth(make_tokens(), reload_principal=reload)
    refresh_token = (await auth.login(GRANTED)).refresh_token
    with pytest.raises(ConnectionError):
        await auth.refresh(refresh_token)

    pair = await auth.refresh(refresh_token)  # the retry is not taken for a stolen token
    assert (await auth.authenticate(pair.access_token)).subject == "alice"
