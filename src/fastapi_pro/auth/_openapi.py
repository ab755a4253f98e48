"""Document the bearer scheme as an OAuth2 password flow, with every scope routes require."""

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


def install_auth_openapi(app: FastAPI, token_url: str | None) -> None:
    """Rewrite the bearer scheme of ``app``'s OpenAPI as an OAuth2 password flow."""
    if token_url is None:
        return
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if BEARER_SCHEME in schemes:
            scopes = {scope: scope for scope in _required_scopes(schema)}
            schemes[BEARER_SCHEME] = {
                "type": "oauth2",
                "description": (
                    "Sign in with a username and password; requests then carry the access "
                    "token as `Authorization: Bearer <token>`."
                ),
                "flows": {"password": {"tokenUrl": token_url, "scopes": scopes}},
            }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
