from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fastapi_pro.auth import ApiKeys, InMemoryApiKeyStore, InvalidApiKeyError

PEPPER = "pepper-" * 6


@pytest.fixture
def keys() -> ApiKeys:
    return ApiKeys(InMemoryApiKeyStore(), pepper=PEPPER, prefix="acme")


async def test_generated_keys_verify_and_only_a_digest_is_stored(keys: ApiKeys) -> None:
    key, record = keys.generate("svc", scopes=["a"], roles=["r"], name="ci")
    keys.store.add(record)  # type: ignore[attr-defined]

    principal = await keys.authenticate(key)

    assert key.startswith(f"acme_{record.key_id}_")
    secret = key.split("_", 2)[2]
    assert secret not in repr(record)
    assert len(record.digest) == 64
    assert (principal.subject, principal.scopes, principal.roles) == ("svc", {"a"}, {"r"})
    assert principal.method == "api_key"
    assert principal.token_id == record.key_id


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: "other" + k[4:],  # wrong prefix
        lambda k: k.replace("_", "-"),  # no separators
        lambda k: "acme_0000000000000000_" + k.split("_", 2)[2],  # unknown id
        lambda k: k + "x" * 300,  # oversized
        lambda _: "",
        lambda _: "acme__",
    ],
)
async def test_wrong_keys_are_refused(keys: ApiKeys, mangle: object) -> None:
    key, record = keys.generate("svc")
    keys.store.add(record)  # type: ignore[attr-defined]

    with pytest.raises(InvalidApiKeyError):
        await keys.authenticate(mangle(key))  # type: ignore[operator]


async def test_expired_and_removed_keys_are_refused(keys: ApiKeys) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired, record = keys.generate("svc", expires_at=past)
    keys.store.add(record)  # type: ignore[attr-defined]
    removed, other = keys.generate("svc")
    keys.store.add(other)  # type: ignore[attr-defined]
    keys.store.remove(other.key_id)  # type: ignore[attr-defined]

    for key in (expired, removed):
        with pytest.raises(InvalidApiKeyError):
            await keys.authenticate(key)


def test_weak_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        ApiKeys(InMemoryApiKeyStore(), pepper="short")
    with pytest.raises(ValueError, match="letters and digits"):
        ApiKeys(InMemoryApiKeyStore(), pepper=PEPPER, prefix="my_prefix")
