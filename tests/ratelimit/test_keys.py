"""Whom a request counts against: the client's address, read through trusted proxies only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.requests import Request

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.ratelimit import RateLimit, RateLimiter, TrustedProxies

PROXIES = ["10.0.0.0/8", "192.168.1.7"]


def address_app(*proxies: str) -> FastAPI:
    """An app that answers the key its limiter sees, on a limited route."""
    app = FastAPI(dependencies=[Depends(RateLimit("100/minute"))])
    install_error_handlers(app)
    limiter = RateLimiter(trusted_proxies=proxies)
    limiter.install(app)

    @app.get("/key")
    async def key(request: Request) -> dict[str, str]:
        return {"key": await limiter.key(request)}

    return app


@asynccontextmanager
async def client_from(app: FastAPI, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def key_seen(peer: str, forwarded: str | None, proxies: list[str]) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    async with client_from(address_app(*proxies), peer) as client:
        response = await client.get("/key", headers=headers)
    assert response.status_code == 200
    key: str = response.json()["key"]
    return key


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "198.51.100.1, 192.168.1.7", "198.51.100.1"),  # two trusted hops
        ("10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1"),  # spoofed left part
        ("10.1.2.3", "not-an-address, 10.9.9.9", "10.1.2.3"),  # a malformed hop: the peer
        ("10.1.2.3", "10.9.9.9", "10.9.9.9"),  # every hop trusted: the first one
        ("10.1.2.3", None, "10.1.2.3"),
    ],
)
async def test_the_client_address_is_read_through_trusted_proxies_only(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert await key_seen(peer, forwarded, PROXIES) == f"address:{client}"


async def test_without_trusted_proxies_forwarded_headers_are_never_read() -> None:
    assert await key_seen("10.1.2.3", "198.51.100.1", []) == "address:10.1.2.3"


async def test_a_client_cannot_escape_its_limit_by_forging_forwarded_headers() -> None:
    app = address_app(*PROXIES)
    async with client_from(app, "203.0.113.9") as client:
        answers = [
            await client.get("/key", headers={"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(3)
        ]
    assert {a.json()["key"] for a in answers} == {"address:203.0.113.9"}
    assert answers[-1].headers["RateLimit"] == '"100-per-minute";r=97;t=60'


async def identify(request: Request) -> str | None:
    return request.headers.get("X-User")


async def test_an_identified_caller_counts_apart_from_its_address() -> None:
    app = FastAPI(dependencies=[Depends(RateLimit("1/minute"))])
    install_error_handlers(app)
    RateLimiter(identify=identify).install(app)

    @app.get("/a")
    async def a() -> dict[str, str]:
        return {}

    async with client_from(app, "203.0.113.9") as client:
        ada = await client.get("/a", headers={"X-User": "ada"})
        grace = await client.get("/a", headers={"X-User": "grace"})
        anonymous = await client.get("/a")
        ada_again = await client.get("/a", headers={"X-User": "ada"})
    assert [r.status_code for r in (ada, grace, anonymous, ada_again)] == [200, 200, 200, 429]


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.example' is not an IP address or network"):
        TrustedProxies(["proxy.example"])


def test_an_ipv6_network_is_trusted() -> None:
    proxies = TrustedProxies(["2001:db8::/32"])
    assert proxies.trusts("2001:db8::1")
    assert not proxies.trusts("2001:db9::1")
    assert not proxies.trusts("unknown")
