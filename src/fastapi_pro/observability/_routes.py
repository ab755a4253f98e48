"""Find the full route template of a request after dispatch, without routing it again."""

from __future__ import annotations

import weakref
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from starlette.types import Scope

UNMATCHED = "<unmatched>"
"""The one route label shared by every request that matched no route (404 floods included)."""

_FASTAPI_SCOPE = "fastapi"
_EFFECTIVE_CONTEXT = "effective_route_context"


def _templates(app: Any) -> dict[int, set[str]]:
    """Map each route object of ``app`` to its full template(s), router prefixes included.

    Plain Starlette routes (the docs pages, say) leave no ``scope["route"]``, only their
    endpoint: they are mapped by their endpoint too. So do mounts: their app, reached with the
    mount's path already in ``root_path``, is mapped to the rest of the template, ``/{path}``.
    """
    found: dict[int, set[str]] = {}
    for context in iter_route_contexts(getattr(app, "routes", ())):
        template = context.path_format
        if template is not None:
            route = context.original_route
            found.setdefault(id(route), set()).add(template)
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None:
                found.setdefault(id(endpoint), set()).add(template)
            if isinstance(route, Mount):  # static files, say: an app that routes no further
                found.setdefault(id(route.app), set()).add("/{path}")
    return found


def app_path(scope: Scope) -> str:
    """The request's path below its root path: what the app's routes (and skip paths) name.

    Servers started with a root path (``uvicorn --root-path /api``) put it in front of
    ``scope["path"]`` as well as in ``scope["root_path"]``; a root path set by the app itself
    (``FastAPI(root_path=...)``) is in ``root_path`` only. Either way this is ``/metrics``.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    rest = path[len(root_path) :]
    if not rest:
        return "/"
    return rest if rest.startswith("/") else path


def _template_of(prefix: str, path_params: dict[str, Any]) -> str:
    """Put a mount's parameters back as ``{name}``: its values must not become labels."""
    if not path_params:
        return prefix
    names = {str(value): name for name, value in path_params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in prefix.split("/"))


class RouteTemplates:
    """Resolves ``/api/v1/orders/{order_id}`` for a finished request from its scope.

    The route object the router stored in ``scope["route"]`` is looked up in a map built once per
    app with FastAPI's public `iter_route_contexts` (rebuilt when a route added later is met);
    the prefix of a mounted sub-application is the part of ``root_path`` it added.
    """

    def __init__(self) -> None:
        self._maps: weakref.WeakKeyDictionary[Any, dict[int, set[str]]] = (
            weakref.WeakKeyDictionary()
        )
        # route id -> (route, template): routes live as long as their app, so this stays small
        self._known: dict[int, tuple[Any, str]] = {}

    def resolve(self, scope: Scope, outer_root_path: str) -> str:
        """Return the full template of the route that served ``scope``, or `UNMATCHED`."""
        route = scope.get("route") or scope.get("endpoint")
        if route is None:
            return UNMATCHED
        prefix: str = scope.get("root_path", "")[len(outer_root_path) :]
        if prefix:
            prefix = _template_of(prefix, scope.get("path_params") or {})
        if isinstance(route, Mount):  # a mounted app that routes no further (static files, say)
            prefix = prefix[: len(prefix) - len(route.path)]
        known = self._known.get(id(route))
        if known is not None and known[0] is route:
            return prefix + known[1]
        return prefix + self._template(scope, route)

    def _template(self, scope: Scope, route: Any) -> str:
        app = scope.get("app")
        templates: set[str] | None = None
        if app is not None:
            mapping = self._maps.get(app)
            if mapping is None or id(route) not in mapping:
                mapping = self._maps[app] = _templates(app)
            templates = mapping.get(id(route))
        if templates is not None and len(templates) == 1:
            only: str = next(iter(templates))
            self._known[id(route)] = (route, only)
            return only
        # A router included twice has two templates: ask the context this request went through.
        context = scope.get(_FASTAPI_SCOPE, {}).get(_EFFECTIVE_CONTEXT)
        template = getattr(context, "path_format", None) or getattr(route, "path_format", None)
        return template if isinstance(template, str) else UNMATCHED
