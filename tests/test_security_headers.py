from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from fastapi_pro.security_headers import (
    API_CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    SecurityHeadersMiddleware,
    install_security_headers,
)
from tests.conftest import ClientFactory


def make_app() -> FastAPI:
    app = FastAPI(docs_url="/api-docs", redoc_url=None)

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    return app


async def test_an_unhandled_500_carries_the_headers(client_for: ClientFactory) -> None:
    app = make_app()
    install_security_headers(app)

    async with client_for(app) as client:
        response = await client.get("/crash")

    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


async def test_the_apps_own_docs_url_gets_the_docs_policy(client_for: ClientFactory) -> None:
    app = make_app()
    install_security_headers(app)

    async with client_for(app) as client:
        docs = await client.get("/api-docs")
        api = await client.get("/ok")

    assert docs.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert api.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


async def test_docs_paths_are_matched_below_the_root_path() -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request"}

    middleware = SecurityHeadersMiddleware(app, docs_content_security_policy="docs-policy")
    scope = {"type": "http", "path": "/shop/docs", "root_path": "/shop", "headers": []}
    await middleware(scope, receive, send)

    assert (b"content-security-policy", b"docs-policy") in sent[0]["headers"]


async def test_headers_set_to_none_are_not_sent(client_for: ClientFactory) -> None:
    app = make_app()
    install_security_headers(
        app, frame_options=None, referrer_policy=None, content_security_policy=None
    )

    async with client_for(app) as client:
        response = await client.get("/ok")

    assert response.headers["x-content-type-options"] == "nosniff"
    for name in ("x-frame-options", "referrer-policy", "content-security-policy"):
        assert name not in response.headers


async def test_strict_transport_security_needs_a_max_age(client_for: ClientFactory) -> None:
    app = make_app()
    install_security_headers(app, hsts_max_age=600, hsts_include_subdomains=False)

    async with client_for(app) as client:
        response = await client.get("/ok")

    assert response.headers["strict-transport-security"] == "max-age=600"


def test_installing_twice_is_refused() -> None:
    app = make_app()
    install_security_headers(app)

    with pytest.raises(RuntimeError, match="already called for this app"):
        install_security_headers(app)
