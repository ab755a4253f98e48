"""Quota policies and the IETF ``RateLimit-Policy`` and ``RateLimit`` header fields.

The fields follow draft-ietf-httpapi-ratelimit-headers (09 and later): each is a structured
field List of Items, a policy name with parameters, for example::

    RateLimit-Policy: "10-per-second";q=10;w=1, "500-per-hour";q=500;w=3600
    RateLimit: "10-per-second";r=9;t=1, "500-per-hour";r=487;t=2950
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from limits import RateLimitItem, parse

_NAME = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")  # an sf-string without escapes


@dataclass(frozen=True, slots=True)
class Policy:
    """One quota: ``quota`` units per ``window`` seconds, under a policy ``name``.

    Attributes:
        name: The policy's name in the header fields.
        item: The ``limits`` rate limit it counts with.
    """

    name: str
    item: RateLimitItem

    @property
    def quota(self) -> int:
        """Units allowed per window."""
        return self.item.amount

    @property
    def window(self) -> int:
        """The window, in seconds."""
        return self.item.get_expiry()

    def field(self) -> str:
        """This policy as a member of ``RateLimit-Policy``."""
        return f'"{self.name}";q={self.quota};w={self.window}'


def parse_policy(limit: str, name: str | None = None) -> Policy:
    """Read ``"10/second"``, ``"500 per hour"`` or ``"5/15 minutes"`` as a `Policy`.

    Args:
        limit: The rate limit, in the notation of the ``limits`` package.
        name: The policy's name in the header fields; made from the limit when omitted.

    Raises:
        ValueError: When the limit cannot be read, or the name holds characters a structured
            field string cannot.
    """
    item = parse(limit)
    if name is None:
        unit = item.GRANULARITY.name
        name = (
            f"{item.amount}-per-{unit}"
            if item.multiples == 1
            else (f"{item.amount}-per-{item.multiples}-{unit}")
        )
    if not _NAME.fullmatch(name):
        msg = f"The policy name {name!r} must be 1 to 64 printable ASCII characters, no quotes."
        raise ValueError(msg)
    return Policy(name, item)


@dataclass(frozen=True, slots=True)
class Quota:
    """Where one policy stands for this request's key after the check."""

    policy: Policy
    remaining: int
    reset_after: float

    def field(self) -> str:
        """This quota as a member of ``RateLimit``."""
        reset = max(0, math.ceil(self.reset_after))
        return f'"{self.policy.name}";r={max(0, self.remaining)};t={reset}'


def header_fields(quotas: list[Quota]) -> list[tuple[bytes, bytes]]:
    """The ``RateLimit-Policy`` and ``RateLimit`` headers of the quotas a request was checked on."""
    policies = ", ".join(dict.fromkeys(_policy_field(quota.policy) for quota in quotas))
    current = ", ".join(quota.field() for quota in quotas)
    return [
        (b"ratelimit-policy", policies.encode("ascii")),
        (b"ratelimit", current.encode("ascii")),
    ]


@functools.lru_cache(maxsize=1024)
def _policy_field(policy: Policy) -> str:
    """`Policy.field`, made once per policy: it is the same on every response."""
    return policy.field()
