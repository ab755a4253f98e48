"""Wrapping an app's whole middleware stack from outside, once, before it serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from fastapi_pro._shared.state import AppFlag


def wrap_stack(app: Any, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap the whole stack, so the 500s Starlette's error middleware sends pass through too."""
    build = app.build_middleware_stack

    def build_wrapped() -> ASGIApp:
        return wrap(build())

    app.build_middleware_stack = build_wrapped


def install_outermost(app: Any, wrap: Callable[[ASGIApp], ASGIApp], *, flag: AppFlag) -> None:
    """`wrap_stack` once per app, before its first request; ``flag`` names the installer.

    Raises:
        RuntimeError: If the app already serves requests, or the installer ran before.
    """
    if getattr(app, "middleware_stack", None) is not None:
        msg = f"{flag.installer}() must run before the app serves its first request."
        raise RuntimeError(msg)
    flag.set_once(app)
    wrap_stack(app, wrap)
