"""`LoginLimits`: how many login attempts a username and a client address may make."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

from fastapi_pro.ratelimit._policy import Policy, parse_policy

PER_USERNAME = ("5/minute", "100/hour")
"""Attempts one username may receive: a person mistyping is not slowed, a guesser is; and
no more than 100 an hour, the ceiling OWASP ASVS (2.2.1) and NIST SP 800-63B (5.2.2) set."""

PER_ADDRESS = ("20/minute",)
"""Token requests one client address may send: a handful of people behind one address log
in and refresh freely, one machine cannot spray passwords over many usernames."""


class LoginLimits:
    """Brute-force limits of the token endpoint, per username and per client address.

    A `RateLimiter` given these (it has the defaults unless told otherwise) checks every
    request of `password_flow_router`'s token endpoint before a password is verified: the
    username's limits for a password grant, and the client address's limits for every grant
    (the refresh grant names no username). Usernames are counted case-folded and
    stripped, under a hash: the name itself is never a storage key, a metric label or a log
    field.

    Args:
        per_username: Limits such as ``"5/minute"``, counted per username.
        per_address: Limits counted per client address (read through the limiter's trusted
            proxies).
        fail_open: When the storage fails, let the attempt through or answer 503, instead of
            what the `RateLimiter` does.

    Raises:
        ValueError: For a limit that cannot be read, or no limit at all.
    """

    __slots__ = ("fail_open", "per_address", "per_username")

    def __init__(
        self,
        per_username: Sequence[str] = PER_USERNAME,
        per_address: Sequence[str] = PER_ADDRESS,
        *,
        fail_open: bool | None = None,
    ) -> None:
        if not per_username and not per_address:
            msg = "LoginLimits needs at least one limit; to limit no logins, give the limiter none."
            raise ValueError(msg)
        self.per_username = _policies("username", per_username)
        self.per_address = _policies("address", per_address)
        self.fail_open = fail_open

    def __repr__(self) -> str:
        names = [policy.name for policy in (*self.per_username, *self.per_address)]
        return f"LoginLimits({', '.join(names)}, fail_open={self.fail_open})"


def _policies(kind: str, limits: Sequence[str]) -> tuple[Policy, ...]:
    """The limits as policies named ``login-{kind}-{limit}`` in the headers and metrics."""
    if isinstance(limits, str):  # a lone string would be read letter by letter
        limits = (limits,)
    named = (parse_policy(limit) for limit in limits)
    return tuple(Policy(f"login-{kind}-{policy.name}", policy.item) for policy in named)


def username_key(identifier: str) -> str:
    """The counter key of a username: normalised (NFKC, stripped, case-folded), then hashed.

    ``Alice@Example.com`` and ``alice@example.com `` count as one; the storage holds the
    SHA-256 of the name, not the name.
    """
    normalised = unicodedata.normalize("NFKC", identifier).strip().casefold()
    return "username:" + hashlib.sha256(normalised.encode()).hexdigest()


DEFAULT_LOGIN_LIMITS = LoginLimits()
"""The `LoginLimits` a `RateLimiter` has unless told otherwise."""
