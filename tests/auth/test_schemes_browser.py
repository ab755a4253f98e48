"""Swagger UI's Authorize dialog with ``Token`` preferred, in headless Chromium.

With ``auth.schemes = ["Token", "Bearer"]`` the OpenAPI document describes the access token as
an API key in the ``Authorization`` header, so a user types ``Token <jwt>`` in Swagger UI's
Authorize dialog. Here a real uvicorn serves `tests.auth.swagger_app` (`setup()`, self-hosted
docs, the password flow); its page loads the app's own Swagger UI bundle, fills the Authorize
state with ``ui.preauthorizeApiKey`` and runs the operation's Execute path
(``ui.specActions.execute``), so Swagger UI itself attaches the header. Without Chromium these
tests are skipped, unless ``FASTAPI_PRO_TEST_BROWSER`` names the browser (as CI does): then
they fail.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.auth.swagger_app import PASSWORD, TRY_IT_OUT_PATH, USERNAME
from tests.servers import Server, bearer_token, serve
from tests.test_self_hosted_docs_browser import render

PROJECT = Path(__file__).resolve().parents[2]
_OUTCOME = re.compile(r'<pre id="outcome">(.*?)</pre>', re.DOTALL)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`tests.auth.swagger_app` under uvicorn, with ``Token`` as the preferred scheme."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT),
        "FASTAPI_PRO_AUTH__SCHEMES": '["Token", "Bearer"]',
        "FASTAPI_PRO_AUTH__SECRET_KEY": secrets.token_urlsafe(32),
        "FASTAPI_PRO_DOCS__SELF_HOSTED": "true",
        "FASTAPI_PRO_DATABASE__URL": "sqlite+aiosqlite:///:memory:",
    }
    app = ["--factory", "tests.auth.swagger_app:token_scheme_app"]
    with serve(app, cwd=tmp_path_factory.mktemp("swagger"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def scheme(server: Server) -> str:
    """The name of the security scheme the protected operation requires, from the document."""
    operation = httpx.get(f"{server.url}/openapi.json", timeout=30).json()["paths"]["/me"]["get"]
    [requirement] = operation["security"]
    [name] = requirement
    return str(name)


def try_it_out(chromium: str, server: Server, **authorize: str) -> dict[str, Any]:
    """Execute ``GET /me`` in the app's Swagger UI, after ``authorize``; return what it got."""
    query = urlencode({"openapi": "/openapi.json", "path": "/me", "method": "get", **authorize})
    dom = render(chromium, f"{server.url}{TRY_IT_OUT_PATH}?{query}")
    found = _OUTCOME.search(dom)
    assert found is not None, f"no outcome element:\n{dom[-3000:]}"
    assert found.group(1), f"Swagger UI reported nothing:\n{dom[-3000:]}"
    outcome: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return outcome


def test_the_document_describes_the_token_as_an_api_key_in_the_authorization_header(
    server: Server, scheme: str
) -> None:
    schema = httpx.get(f"{server.url}/openapi.json", timeout=30).json()

    described = schema["components"]["securitySchemes"][scheme]
    assert (described["type"], described["in"], described["name"]) == (
        "apiKey",
        "header",
        "Authorization",
    )
    assert "Token <token>" in described["description"]


def test_swagger_ui_sends_the_token_typed_in_authorize_with_its_scheme(
    chromium: str, server: Server, scheme: str
) -> None:
    token = bearer_token(server, USERNAME, PASSWORD)

    outcome = try_it_out(chromium, server, scheme=scheme, authorization=f"Token {token}")

    assert outcome["request_headers"]["Authorization"] == f"Token {token}"
    assert outcome["status"] == 200
    assert json.loads(outcome["text"]) == {"subject": USERNAME}


def test_without_authorize_swagger_ui_gets_a_401_challenging_with_token(
    chromium: str, server: Server
) -> None:
    outcome = try_it_out(chromium, server)

    assert "Authorization" not in outcome["request_headers"]
    assert outcome["status"] == 401
    assert outcome["headers"]["www-authenticate"] == 'Token realm="api"'
    assert json.loads(outcome["text"])["code"] == "unauthorized"


def test_a_token_typed_without_its_scheme_is_refused(
    chromium: str, server: Server, scheme: str
) -> None:
    token = bearer_token(server, USERNAME, PASSWORD)

    outcome = try_it_out(chromium, server, scheme=scheme, authorization=token)

    assert outcome["request_headers"]["Authorization"] == token
    assert outcome["status"] == 401
    assert outcome["headers"]["www-authenticate"] == 'Token realm="api"'
