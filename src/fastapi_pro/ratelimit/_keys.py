"""Whom a request counts against (a key function, or the client's address), and on which route.

The client's address is the connection's peer, unless that peer is a trusted proxy: then the
``X-Forwarded-For`` list is read from its right end, skipping the trusted proxies, and the
first address that is not one of them is the client. A client cannot choose its key by
sending the header itself: a header from an untrusted peer is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request

KeyFunc = Callable[[Request], Awaitable[str | None]]
"""An async function naming whom a request counts against, or ``None`` to fall back."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` header names the client.

    Args:
        proxies: Addresses (``"10.0.0.7"``) or networks (``"10.0.0.0/8"``).

    Raises:
        ValueError: For an entry that is neither.
    """

    __slots__ = ("networks",)

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        networks: list[_Network] = []
        for proxy in proxies:
            try:
                networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError:
                msg = f"The trusted proxy {proxy!r} is not an IP address or network."
                raise ValueError(msg) from None
        self.networks = tuple(networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        parsed = _address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_address(self, request: Request) -> str:
        """The client's address: the peer, or the first untrusted hop of ``X-Forwarded-For``."""
        peer = request.client.host if request.client else "unknown"
        if not self.networks or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed(hops):
            if _address(hop) is None:
                return peer  # a malformed hop: nothing to its left can be believed
            if not self.trusts(hop):
                return hop
        return hops[0]  # every hop is a trusted proxy: the first one is the client


def _address(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
