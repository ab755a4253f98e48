"""The rate-limit guide's example, docs/examples/ratelimit_app.py, served as a client sees it."""

from __future__ import annotations

import httpx

from tests.test_docs import load


async def test_the_guides_example_limits_counts_costs_and_tenants() -> None:
    module = load("ratelimit_app")
    transport = httpx.ASGITransport(app=module.app, client=("10.0.0.2", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        forwarded = {"X-Forwarded-For": "198.51.100.7"}
        search = await client.get("/api/search", params={"q": "otter"}, headers=forwarded)
        exports = [(await client.post("/api/exports")).status_code for _ in range(3)]
        reports = [
            (await client.get("/api/reports", headers={"X-Tenant": tenant})).status_code
            for tenant in ("acme", "acme", "acme", "globex")
        ]
    assert search.status_code == 200
    assert search.headers["RateLimit-Policy"] == (
        '"10-per-second";q=10;w=1, "500-per-hour";q=500;w=3600'
    )
    assert exports == [200, 200, 429]
    assert reports == [200, 200, 429, 200]
