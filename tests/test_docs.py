"""The examples the docs include run as written."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import event

from fastapi_pro.auth import Key, KeyRing, Tokens
from fastapi_pro.db import Database
from tests.conftest import ClientFactory
from tests.servers import in_process

DOCS = Path(__file__).parent.parent / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # SQLAlchemy resolves model annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_every_included_example_exists() -> None:
    included = set()
    for page in DOCS.rglob("*.md"):
        included.update(re.findall(r'--8<-- "docs/examples/(\w+\.py)"', page.read_text()))
    assert included
    assert included <= {p.name for p in (DOCS / "examples").glob("*.py")}


async def test_errors_example_serves_typed_problems(client_for: ClientFactory) -> None:
    app: FastAPI = load("errors_app").app
    async with client_for(app) as client:
        found = await client.get("/orders/1")
        missing = await client.get("/orders/2")
        paid = await client.post("/orders/1/pay")
        invalid = await client.get("/orders/one")

    assert found.json() == {"id": 1, "status": "paid"}
    assert missing.status_code == 404
    assert missing.json()["code"] == "order_not_found"
    assert paid.status_code == 409
    assert paid.json()["order_id"] == 1
    assert invalid.json()["errors"][0]["pointer"] == "#/path/order_id"


async def test_settings_example_builds_an_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, client_for: ClientFactory
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTAPI_PRO_OBSERVABILITY__REQUEST_ID_HEADER", "X-Correlation-ID")
    monkeypatch.setenv("FASTAPI_PRO_ERRORS__TYPE_BASE_URI", "https://errors.example.com/")
    app: FastAPI = load("settings_app").app
    async with client_for(app) as client:
        response = await client.get("/missing")

    assert "x-correlation-id" in response.headers
    assert response.json()["type"] == "https://errors.example.com/not_found"


async def test_data_layer_example_runs_end_to_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    module = load("db_app")
    app: FastAPI = module.app
    await module.db.create_all(module.Base.metadata)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for sku, name, price in [
                ("a", "Chair", 4000),
                ("b", "Desk", 12000),
                ("c", "Lamp", 2500),
            ]:
                created = await client.post(
                    "/products", json={"sku": sku, "name": name, "price_cents": price}
                )
                assert created.status_code == 201
            duplicate = await client.post(
                "/products", json={"sku": "a", "name": "Again", "price_cents": 1}
            )
            page = (await client.get("/products?limit=2&sort=-price_cents")).json()
            desk = page["items"][0]
            patched = await client.patch(
                f"/products/{desk['id']}", json={"price_cents": 11000, "version": 1}
            )
            stale = await client.patch(
                f"/products/{desk['id']}", json={"price_cents": 9000, "version": 1}
            )
            deleted = await client.delete(f"/products/{desk['id']}")
            gone = await client.get(f"/products/{desk['id']}")
            remaining = (await client.get("/products")).json()
            bad_sort = await client.get("/products?sort=secret")
            skus = (await client.get("/skus")).json()

    assert duplicate.status_code == 409
    assert duplicate.json()["fields"] == ["sku"]
    assert [p["name"] for p in page["items"]] == ["Desk", "Chair"]
    assert page["total"] == 3
    assert patched.json()["version"] == 2
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert [p["name"] for p in remaining["items"]] == ["Chair", "Lamp"]
    assert bad_sort.status_code == 400
    assert skus == ["a", "c"]  # the deleted desk is hidden by the route's own filter


async def test_feed_example_pages_rows_with_computed_and_joined_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    module = load("db_feed")
    await module.db.create_all(module.Base.metadata)
    async with module.db.session() as session:
        ann, bob = module.Author(username="ann"), module.Author(username="bob")
        session.add_all([ann, bob])
        await session.flush()
        posts = [module.Article(slug=f"p{i}", title=f"P{i}", author_id=bob.id) for i in range(3)]
        session.add_all(posts)
        await session.flush()
        session.add_all(
            [
                module.Favorite(article_id=posts[1].id, author_id=ann.id),
                module.Favorite(article_id=posts[1].id, author_id=bob.id),
                module.Favorite(article_id=posts[2].id, author_id=bob.id),
                module.Follow(follower_id=ann.id, followed_id=bob.id),
            ]
        )
    async with LifespanManager(module.app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = (await client.get(f"/articles?me={ann.id}&limit=2")).json()
            first = (await client.get(f"/articles/feed?me={bob.id}&limit=2&sort=author")).json()
            cursor = first["next_cursor"]
            rest = await client.get(f"/articles/feed?me={bob.id}&sort=author&cursor={cursor}")
            other_sort = await client.get(f"/articles/feed?me={bob.id}&cursor={cursor}")
            bad_sort = await client.get(f"/articles?me={ann.id}&sort=secret")

    author = {"username": "bob"}
    assert page["items"] == [
        {"slug": "p1", "title": "P1", "favorites_count": 2, "favorited": True,
         "author_followed": True, "author": author},
        {"slug": "p2", "title": "P2", "favorites_count": 1, "favorited": False,
         "author_followed": True, "author": author},
    ]  # fmt: skip
    assert (page["total"], page["has_next"]) == (3, True)
    assert [(a["slug"], a["favorited"]) for a in first["items"]] == [("p0", False), ("p1", True)]
    assert [a["slug"] for a in rest.json()["items"]] == ["p2"]
    assert other_sort.json()["code"] == "invalid_cursor"
    assert bad_sort.json()["code"] == "invalid_sort"


async def test_auth_example_logs_in_refreshes_and_checks_scopes(client_for: ClientFactory) -> None:
    module = load("auth_app")
    key, record = module.api_keys.generate("reporting", scopes=["orders:read"])
    module.api_keys.store.add(record)
    async with client_for(module.app) as client:
        login = await client.post(
            "/auth/token", data={"username": "alice", "password": "wonderland"}
        )
        tokens = login.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await client.get("/me", headers=headers)
        listed = await client.get("/orders", headers=headers)
        refused = await client.post("/orders", headers=headers)
        by_key = await client.get("/orders", headers={"X-API-Key": key})
        caller = await client.get("/caller", headers={"X-API-Key": key})
        refreshed = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        replayed = await client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        wrong = await client.post("/auth/token", data={"username": "alice", "password": "x"})

    assert me.json() == {"username": "alice", "name": "Alice"}
    assert listed.json() == [{"id": 1}]
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="orders:write"')
    assert by_key.status_code == 200
    assert caller.json() == {"subject": "reporting", "method": "api_key"}
    assert refreshed.status_code == 200
    assert replayed.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


async def test_session_loader_example_renames_the_member_on_one_connection(
    tmp_path: Path,
) -> None:
    module = load("auth_session_loader")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'members.db'}")
    await database.create_all(module.Base.metadata)
    async with database.session() as session:
        session.add(module.Member(id=1, name="Alice"))
    secret = "s" * 32
    token = Tokens(KeyRing(Key.hmac(secret))).issue("1")
    checkouts: list[object] = []
    event.listen(database.engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
    async with in_process(module.create_app(database, secret)) as client:
        response = await client.patch(
            "/me", params={"name": "Alicia"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.json() == {"name": "Alicia", "same_session": "True"}
    assert len(checkouts) == 1
    async with database.session() as session:
        assert (await session.get_one(module.Member, 1)).name == "Alicia"
    await database.dispose()


async def test_external_idp_example_verifies_provider_tokens(client_for: ClientFactory) -> None:
    import time  # noqa: PLC0415 - this test forges a provider's token

    import jwt  # noqa: PLC0415

    from fastapi_pro.auth import JWKSKeySource, Key  # noqa: PLC0415

    module = load("auth_external_idp")
    provider_key = Key.generate("RS256", kid="sso-1")
    provider = FastAPI()

    @provider.get("/certs")
    async def certs() -> dict[str, object]:
        return {"keys": [provider_key.public_jwk()]}

    now = int(time.time())
    token = jwt.encode(
        {
            "sub": "u-1",
            "iss": module.ISSUER,
            "aud": "orders",
            "iat": now,
            "exp": now + 60,
            "scope": "openid orders:read",
        },
        provider_key.signing_key,
        algorithm="RS256",
        headers={"kid": "sso-1", "typ": "JWT"},
    )
    transport = httpx.ASGITransport(app=provider)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://sso.example.com") as http,
        JWKSKeySource("https://sso.example.com/certs", client=http) as jwks,
        client_for(module.create_app(jwks)) as client,
    ):
        accepted = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        forged = await client.get("/me", headers={"Authorization": f"Bearer {token[:-4]}AAAA"})

    assert accepted.json() == {"subject": "u-1", "scopes": ["openid", "orders:read"]}
    assert forged.status_code == 401


async def test_observability_example_measures_logs_and_traces(
    client_for: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    import json  # noqa: PLC0415 - parses the example's JSON log lines

    from loguru import logger  # noqa: PLC0415

    module = load("observability_app")
    try:
        async with client_for(module.app) as client:
            paid = await client.post("/orders/7/pay")
            scrape = await client.get("/metrics")
    finally:
        logger.remove()
        logging.basicConfig(handlers=[], force=True)
        logging.getLogger("uvicorn.access").disabled = False
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]

    request_id = paid.headers["x-request-id"]
    mine = [line for line in lines if line["request_id"] == request_id]
    assert [line["message"] for line in mine] == [
        "paying order 7",
        "POST /orders/7/pay 200 " + mine[1]["message"].split()[-1],
        "receipt sent for order 7",
    ]
    assert 'orders_paid_total{currency="EUR"} 1.0' in scrape.text
    assert 'http_route="/orders/{order_id}/pay"' in scrape.text


async def test_setup_example_wires_every_block(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from loguru import logger  # noqa: PLC0415 - the example configures logging

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTAPI_PRO_CORS__ALLOW_ORIGINS", '["https://app.example.com"]')
    try:
        module = load("setup_app")
        token = module.components.auth.tokens.issue("alice")
        async with LifespanManager(module.app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                created = await client.post(
                    "/tasks",
                    json={"title": "Write the docs"},
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Origin": "https://app.example.com",
                    },
                )
                anonymous = await client.post("/tasks", json={"title": "Sneak in"})
                stats = await client.get("/stats")
                ready = await client.get("/health/ready")
                scrape = await client.get("/metrics")
    finally:
        logger.remove()
        logging.basicConfig(handlers=[], force=True)
        logging.getLogger("uvicorn.access").disabled = False

    assert created.status_code == 201
    assert created.json() == {"title": "Write the docs", "id": 1, "owner": "alice"}
    assert created.headers["access-control-allow-origin"] == "https://app.example.com"
    assert created.headers["x-content-type-options"] == "nosniff"
    assert anonymous.status_code == 401
    assert anonymous.json()["request_id"] == anonymous.headers["x-request-id"]
    assert stats.json() == {"tasks_at_start": 0}
    assert ready.status_code == 200
    assert 'http_route="/tasks"' in scrape.text
