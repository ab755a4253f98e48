"""Version-7 UUIDs (RFC 9562): time-ordered, so new rows land at the end of a B-tree index."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # 12 bits


def uuid7() -> uuid.UUID:
    """Return a new version-7 UUID, monotonic within this process.

    48 bits of Unix milliseconds, then a 12-bit counter that restarts at a random value each
    millisecond (RFC 9562 §6.2, method 1), then 62 random bits.
    """
    global _last_ms, _counter  # noqa: PLW0603 - the monotonic clock is process-wide by design
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2)) & 0x7FF  # leave room to count up
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8)) & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
