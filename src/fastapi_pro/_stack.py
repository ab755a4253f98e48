"""Wrapping an app's whole middleware stack from outside, once, before it serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp


def wrap_stack(app: Any, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap the whole stack, so the 500s Starlette's error middleware sends pass through too."""
    build = app.build_middleware_stack

    def build_wrapped() -> ASGIApp:
        return wrap(build())

    app.build_middleware_stack = build_wrapped


def install_outermost(
    app: Any, wrap: Callable[[ASGIApp], ASGIApp], *, installer: str, key: str
) -> None:
    """`wrap_stack` once per app, before its first request; ``installer`` names the caller.

    Raises:
        RuntimeError: If the app already serves requests, or ``installer`` ran before.
    """
    if getattr(app, "middleware_stack", None) is not None:
        msg = f"{installer}() must run before the app serves its first request."
        raise RuntimeError(msg)
    if getattr(app.state, key, False):
        msg = f"{installer}() was already called for this app; call it once."
        raise RuntimeError(msg)
    setattr(app.state, key, True)
    wrap_stack(app, wrap)
