"""Document the bearer scheme as clients send it: an OAuth2 password flow, or the scheme used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

BEARER_SCHEME = "BearerToken"
API_KEY_SCHEME = "ApiKey"
_ROLE = "role:"


def _required_scopes(schema: dict[str, Any]) -> list[str]:
    scopes: set[str] = set()
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                for requirement in operation.get("security", []):
                    scopes.update(requirement.get(BEARER_SCHEME, []))
    return sorted(s for s in scopes if not s.startswith(_ROLE))


def _password_flow(schema: dict[str, Any], token_url: str) -> dict[str, Any]:
    scopes = {scope: scope for scope in _required_scopes(schema)}
    return {
        "type": "oauth2",
        "description": (
            "Sign in with a username and password; requests then carry the access "
            "token as `Authorization: Bearer <token>`."
        ),
        "flows": {"password": {"tokenUrl": token_url, "scopes": scopes}},
    }


def _authorization_header(scheme: str) -> dict[str, Any]:
    # Swagger UI (swagger-client's request builder) sends an http scheme only when it is basic
    # or bearer, always as "Bearer <value>", and an OAuth2 token with the token response's
    # token_type; an API key in a header goes as typed: the user types "Token <jwt>".
    return {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": f"The access token as `Authorization: {scheme} <token>`; type both.",
    }


def install_auth_openapi(app: FastAPI, token_url: str | None, scheme: str = "Bearer") -> None:
    """Document the bearer scheme of ``app``'s OpenAPI the way clients must send it.

    A preferred scheme other than ``Bearer`` becomes an API key in the ``Authorization``
    header; else, with ``token_url``, the scheme becomes an OAuth2 password flow.
    """
    custom = scheme.lower() != "bearer"
    if token_url is None and not custom:
        return
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if BEARER_SCHEME in schemes:
            schemes[BEARER_SCHEME] = (
                _password_flow(schema, token_url)
                if token_url is not None and not custom
                else _authorization_header(scheme)
            )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
