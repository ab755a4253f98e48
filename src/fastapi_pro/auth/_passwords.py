"""Password hashing off the event loop: Argon2id now, bcrypt accepted for legacy hashes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

T = TypeVar("T")

MAX_PASSWORD_BYTES = 1024
"""Longer passwords are refused without hashing them, so they cannot be used to burn CPU."""


def _lower_priority(nice: int) -> None:
    """Lower this worker thread's CPU priority; threads it starts inherit it.

    Linux schedules each thread by its own niceness; elsewhere this does nothing.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + nice))


class PasswordHasher:
    """Hash and verify passwords in a bounded thread pool, never on the event loop.

    Argon2 and bcrypt release the GIL while they work, so hashing in threads leaves the event
    loop free to serve other requests. The worker threads (and Argon2's lane threads, which
    inherit it) also run at a lower CPU priority, so that on a busy machine the event loop is
    scheduled first and a login never stalls other requests. Hashes made with an older
    algorithm or weaker parameters verify, and `verify_and_update` returns the hash to store.

    Args:
        hasher: The pwdlib `PasswordHash`; its first hasher makes new hashes. Default: Argon2id
            with pwdlib's parameters (64 MiB, 3 passes, 4 lanes), bcrypt for legacy hashes.
        max_concurrency: Hashes computed at once; more wait their turn (each Argon2id hash
            holds its memory cost while it runs). Default: the number of CPUs, at most 4.
        nice: How much lower than the event loop the hashing threads are scheduled (Linux
            niceness; 0 keeps the same priority).
    """

    def __init__(
        self,
        hasher: PasswordHash | None = None,
        *,
        max_concurrency: int | None = None,
        nice: int = 19,
    ) -> None:
        self.hasher = hasher or PasswordHash((Argon2Hasher(), BcryptHasher()))
        workers = max_concurrency or max(1, min(4, os.cpu_count() or 1))
        # Threads start on first use, not here: constructing a hasher starts nothing.
        self._pool = ThreadPoolExecutor(
            workers,
            thread_name_prefix="fastapi-pro-hash",
            initializer=_lower_priority,
            initargs=(nice,),
        )
        self._dummy_hash: str | None = None

    @classmethod
    def owasp_minimum(cls, *, max_concurrency: int | None = None) -> PasswordHasher:
        """Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): for small containers."""
        argon2 = Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1)
        return cls(PasswordHash((argon2, BcryptHasher())), max_concurrency=max_concurrency)

    async def _run(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function)

    async def hash(self, password: str) -> str:
        """Return a new hash of ``password``.

        Raises:
            ValueError: If the password is longer than `MAX_PASSWORD_BYTES`.
        """
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            msg = f"Passwords may be at most {MAX_PASSWORD_BYTES} bytes long."
            raise ValueError(msg)
        return await self._run(lambda: self.hasher.hash(password))

    async def verify(self, password: str, password_hash: str) -> bool:
        """Whether ``password`` matches ``password_hash``; unknown hash formats do not match."""
        valid, _ = await self.verify_and_update(password, password_hash)
        return valid

    async def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Verify, and return a new hash when the stored one uses outdated parameters.

        Returns:
            ``(matches, new_hash)``; store ``new_hash`` when it is not ``None``.
        """
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            await self.verify_dummy(password[:64])
            return False, None

        def check() -> tuple[bool, str | None]:
            try:
                return self.hasher.verify_and_update(password, password_hash)
            except (UnknownHashError, ValueError):  # corrupt hash, or over bcrypt's 72 bytes
                return False, None

        return await self._run(check)

    async def verify_dummy(self, password: str) -> bool:
        """Spend the time of one real verification, for a user that does not exist.

        Call it when a login names an unknown account, so that the response time does not
        reveal which accounts exist. Always returns ``False``.
        """
        if self._dummy_hash is None:
            self._dummy_hash = await self._run(lambda: self.hasher.hash("fastapi-pro dummy"))
        dummy = self._dummy_hash
        await self._run(lambda: self.hasher.verify(password[:MAX_PASSWORD_BYTES], dummy))
        return False

    def close(self) -> None:
        """Stop the worker threads (waits for running hashes)."""
        self._pool.shutdown(wait=True)
