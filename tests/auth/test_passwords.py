from __future__ import annotations

import asyncio
import time

import bcrypt
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fastapi_pro.auth import PasswordHasher
from fastapi_pro.auth._passwords import MAX_PASSWORD_BYTES


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher.owasp_minimum()


async def test_hash_then_verify(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("correct horse battery staple")

    assert hashed.startswith("$argon2id$")
    assert await hasher.verify("correct horse battery staple", hashed)
    assert not await hasher.verify("Correct horse battery staple", hashed)


async def test_legacy_bcrypt_hashes_verify_and_are_upgraded(hasher: PasswordHasher) -> None:
    legacy = bcrypt.hashpw(b"hunter2-legacy", bcrypt.gensalt(rounds=4)).decode()

    valid, upgraded = await hasher.verify_and_update("hunter2-legacy", legacy)

    assert valid
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert await hasher.verify("hunter2-legacy", upgraded)


async def test_weaker_argon2_parameters_are_upgraded(hasher: PasswordHasher) -> None:
    weak = PasswordHash((Argon2Hasher(memory_cost=8 * 1024, time_cost=1, parallelism=1),))
    old_hash = weak.hash("pw-to-upgrade")

    valid, upgraded = await hasher.verify_and_update("pw-to-upgrade", old_hash)

    assert valid
    assert upgraded is not None


async def test_current_hashes_need_no_update(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("fresh")

    assert await hasher.verify_and_update("fresh", hashed) == (True, None)


@pytest.mark.parametrize("stored", ["", "plaintext", "$argon2id$garbage", "$2b$12$short"])
async def test_unknown_or_corrupt_hashes_do_not_match(hasher: PasswordHasher, stored: str) -> None:
    assert await hasher.verify_and_update("anything", stored) == (False, None)


async def test_overlong_passwords_are_refused_without_hashing_them(hasher: PasswordHasher) -> None:
    huge = "x" * (MAX_PASSWORD_BYTES + 1)

    with pytest.raises(ValueError, match="at most 1024 bytes"):
        await hasher.hash(huge)
    assert await hasher.verify_and_update(huge, await hasher.hash("short")) == (False, None)


class RecordingHash(PasswordHash):
    """pwdlib's `PasswordHash`, noting the hash each verification checks against."""

    def __init__(self, hashers: tuple[Argon2Hasher, ...]) -> None:
        super().__init__(hashers)
        self.verified: list[str | bytes] = []

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.verified.append(hash)
        return super().verify(password, hash)


async def test_dummy_verify_does_the_work_of_one_real_verify() -> None:
    """The dummy check verifies against a hash of the current algorithm and parameters.

    So it costs what a real one costs: checked by the work done, not by timing it, which a busy
    machine makes meaningless.
    """
    argon2 = Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1)
    recording = RecordingHash((argon2,))
    hasher = PasswordHasher(recording)

    assert await hasher.verify_dummy("wrong guess") is False
    assert await hasher.verify_dummy("another guess") is False

    assert len(recording.verified) == 2  # one full verification per call
    dummy = recording.verified[0]
    assert argon2.identify(dummy)
    assert not argon2.check_needs_rehash(dummy)  # the parameters new hashes get
    hasher.close()


async def test_hashing_leaves_the_event_loop_free(hasher: PasswordHasher) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"pw-{i}") for i in range(4)))
    elapsed = time.perf_counter() - started
    task.cancel()

    # Inline hashing would let no tick through; off-loop hashing lets most of them run.
    assert ticks > (elapsed / 0.001) * 0.1


def test_presets_differ_in_memory_cost() -> None:
    default = PasswordHasher().hasher.current_hasher
    small = PasswordHasher.owasp_minimum().hasher.current_hasher

    assert isinstance(default, Argon2Hasher)
    assert isinstance(small, Argon2Hasher)
    assert "$m=19456,t=2,p=1$" in small.hash("x")
    assert "$m=65536,t=3,p=4$" in default.hash("x")
