"""The template of the route serving a request, router prefixes included."""

from __future__ import annotations

from starlette.requests import Request


def route_template(request: Request) -> str:
    """The template of the route serving ``request`` (router prefixes included)."""
    scope = request.scope
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if not isinstance(template, str):
        template = getattr(scope.get("route"), "path_format", None)
    return template if isinstance(template, str) else "<unknown>"
