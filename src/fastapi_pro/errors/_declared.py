"""Problems declared on dependencies, documented on every operation that uses them.

A dependency that can fail with an `AppError` (a sort parameter with a 400, a bearer token
with a 401, a session with a 503) says so once with `declare_problems`; every route that
depends on it, directly or through other dependencies, then lists those responses in its
OpenAPI operation, so the document states every status the route can send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from fastapi_pro.errors._exceptions import AppError

T = TypeVar("T")

_MARK = "__fastapi_pro_problems__"


AppProblems = Callable[[Any], Iterable[type[AppError]]]
"""Given the app, the further problems a dependency can raise there (its configuration's)."""


@dataclass(frozen=True, slots=True)
class _Declared:
    always: tuple[type[AppError], ...]
    scoped: tuple[type[AppError], ...]
    per_app: AppProblems | None


def declare_problems(
    *errors: type[AppError],
    scoped: Iterable[type[AppError]] = (),
    per_app: AppProblems | None = None,
) -> Callable[[T], T]:
    """Mark a dependency with the problems it can raise, for OpenAPI.

    Every operation that uses the dependency (in its signature, ``dependencies=[...]``, a
    router's dependencies, or through another dependency) documents these responses.

    Example:
        ```python
        @declare_problems(TenantNotFoundError)
        async def current_tenant(request: Request) -> Tenant: ...
        ```

    Args:
        *errors: `AppError` subclasses the dependency may raise.
        scoped: Further errors raised only when the dependency is used with OAuth2 scopes
            (``Security(dependency, scopes=[...])``), such as a 403 for a missing scope.
        per_app: A function of the app giving further errors raised only with the app's
            configuration, such as a 503 when a token denylist is checked.

    Returns:
        A function that marks its argument (a function, a class or a callable instance) and
        returns it unchanged. A marked class's classmethods, used as dependencies, declare
        the same problems.
    """
    declared = _Declared(tuple(errors), tuple(scoped), per_app)

    def mark(dependency: T) -> T:
        setattr(dependency, _MARK, declared)
        return dependency

    return mark


def _declaration(call: Any) -> Any:
    """What ``call`` declares; a method bound to a marked class speaks for that class."""
    declared = getattr(call, _MARK, None)
    if declared is None:
        declared = getattr(getattr(call, "__self__", None), _MARK, None)
    return declared


def _declared_by(dependant: Any, app: Any) -> Iterator[type[AppError]]:
    declared = _declaration(dependant.call) if dependant.call is not None else None
    if isinstance(declared, _Declared):
        yield from declared.always
        if dependant.own_oauth_scopes:
            yield from declared.scoped
        if declared.per_app is not None and app is not None:
            yield from declared.per_app(app)
    for child in dependant.dependencies:
        yield from _declared_by(child, app)


def declared_problems(
    routes: Iterable[BaseRoute], app: Any = None
) -> Iterator[tuple[str, str, list[type[AppError]]]]:
    """Yield ``(path, method, errors)`` for each documented operation that declares problems.

    ``app`` is what ``per_app`` declarations are asked about; without it they add nothing.
    """
    for context in iter_route_contexts(list(routes)):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        errors = list(dict.fromkeys(_declared_by(context.dependant, app)))
        if errors:
            for method in sorted(context.methods or ()):
                yield context.path_format or "", method.lower(), errors
