"""Every status the auth dependencies and router can send is in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from fastapi_pro.auth import Auth, CurrentPrincipal, Key, KeyRing, Tokens
from fastapi_pro.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from tests.auth import test_router
from tests.auth.helpers import make_app


def problem_codes(schema: dict[str, Any], path: str, method: str, status: str) -> set[str]:
    entry = schema["paths"][path][method]["responses"][status]
    return set(entry["content"][PROBLEM_MEDIA_TYPE]["examples"])


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return make_app().openapi()


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/me", "get"),
        ("/profile", "get"),
        ("/orders", "get"),
        ("/orders", "post"),
        ("/admin", "get"),
    ],
)
def test_protected_operations_document_their_401(
    schema: dict[str, Any], path: str, method: str
) -> None:
    assert {"unauthorized", "invalid_token"} <= problem_codes(schema, path, method, "401")


@pytest.mark.parametrize(("path", "method"), [("/maybe", "get"), ("/greeting", "get")])
def test_optional_credentials_document_only_the_bad_token_401(
    schema: dict[str, Any], path: str, method: str
) -> None:
    assert problem_codes(schema, path, method, "401") == {"invalid_token"}


@pytest.mark.parametrize(
    ("path", "method", "has_403"),
    [
        ("/me", "get", False),
        ("/orders", "get", True),
        ("/orders", "post", True),
        ("/admin", "get", True),
    ],
)
def test_only_operations_that_require_scopes_or_roles_document_a_403(
    schema: dict[str, Any], path: str, method: str, has_403: bool
) -> None:
    responses = schema["paths"][path][method]["responses"]

    assert ("403" in responses) is has_403
    if has_403:
        assert problem_codes(schema, path, method, "403") == {"insufficient_scope"}


def test_the_password_scheme_promises_no_token_field_swagger_does_not_show(
    schema: dict[str, Any],
) -> None:
    description = schema["components"]["securitySchemes"]["BearerToken"]["description"]

    assert "paste" not in description
    assert "Authorization: Bearer" in description


def test_the_router_documents_every_status_it_sends() -> None:
    schema = test_router.make_app().openapi()

    assert problem_codes(schema, "/auth/logout", "post", "401") == {"invalid_token"}
    assert "401" in schema["paths"]["/auth/logout-all"]["post"]["responses"]
    assert "400" in schema["paths"]["/auth/token"]["post"]["responses"]


def test_the_token_form_schema_states_what_the_handler_enforces() -> None:
    schema = test_router.make_app().openapi()
    body = schema["paths"]["/auth/token"]["post"]["requestBody"]
    password, refresh = body["content"]["application/x-www-form-urlencoded"]["schema"]["anyOf"]

    assert body["required"] is True
    assert password["required"] == ["username", "password"]
    assert password["properties"]["username"]["minLength"] == 1
    assert password["properties"]["grant_type"]["enum"] == ["password"]
    assert refresh["required"] == ["grant_type", "refresh_token"]
    assert refresh["properties"]["grant_type"]["enum"] == ["refresh_token"]
    assert password["maxProperties"] == refresh["maxProperties"] == 10


@pytest.mark.parametrize("check_denylist", [True, False])
def test_a_checked_denylist_documents_its_stores_outage_on_bearer_routes(
    check_denylist: bool,
) -> None:
    """The denylist is read on every bearer request only when checked: so is its 503."""
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    install_error_handlers(app)
    Auth(Tokens(KeyRing(Key.hmac("k" * 32))), check_denylist=check_denylist).install(app)
    responses = app.openapi()["paths"]["/me"]["get"]["responses"]

    assert ("503" in responses) is check_denylist
    if check_denylist:
        examples = responses["503"]["content"]["application/problem+json"]["examples"]
        assert "token_store_unavailable" in examples
