"""The ``Allow`` header of a 405: every method of the path, not only the first route's."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.routing import Match


def allowed_methods(request: Request) -> str | None:
    """The methods that routes of ``request``'s app serve at its path, as an ``Allow`` value.

    Starlette answers a 405 with the methods of the first route whose path matched; a path
    served by several routes (``GET`` and ``POST`` declared apart) allows all of theirs.
    Returns ``None`` when no route of the app matches the path.
    """
    routes = getattr(getattr(request.scope.get("app"), "router", None), "routes", None)
    methods: set[str] = set()
    for context in iter_route_contexts(routes or []):
        route_methods = context.methods
        if route_methods and context.matches(request.scope)[0] is not Match.NONE:
            methods.update(route_methods)
    return ", ".join(sorted(methods)) or None


def with_allow(request: Request, headers: Mapping[str, str] | None) -> dict[str, str]:
    """``headers`` with ``Allow`` listing every method of the request's path."""
    merged = dict(headers or {})
    allow = allowed_methods(request)
    if allow is not None:
        merged = {k: v for k, v in merged.items() if k.lower() != "allow"} | {"Allow": allow}
    return merged
