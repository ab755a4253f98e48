"""Testing FastAPI services built with fastapi-pro.

The pytest plugin (`fastapi_pro.testing.plugin`) loads itself once fastapi-pro is installed
and stays dormant until a project sets ``fastapi_pro_app``; this module holds the helpers
its fixtures are built from, for tests and fixtures of your own. Names are imported on first
use, so that loading the plugin costs next to nothing in projects that do not use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi_pro.testing._app import build_app, load_target, run_app, served_app
    from fastapi_pro.testing._auth import ActAs, TokenFactory
    from fastapi_pro.testing._capture import (
        CapturedLogs,
        CapturedMetrics,
        CapturedSpans,
        LogRecord,
        QueryCounter,
        assert_problem,
    )
    from fastapi_pro.testing._database import isolated
    from fastapi_pro.testing._extras import MissingExtraError

__all__ = [
    "ActAs",
    "CapturedLogs",
    "CapturedMetrics",
    "CapturedSpans",
    "LogRecord",
    "MissingExtraError",
    "QueryCounter",
    "TokenFactory",
    "assert_problem",
    "build_app",
    "isolated",
    "load_target",
    "run_app",
    "served_app",
]

_MODULE_OF = {
    "ActAs": "_auth",
    "CapturedLogs": "_capture",
    "CapturedMetrics": "_capture",
    "CapturedSpans": "_capture",
    "LogRecord": "_capture",
    "MissingExtraError": "_extras",
    "QueryCounter": "_capture",
    "TokenFactory": "_auth",
    "assert_problem": "_capture",
    "build_app": "_app",
    "isolated": "_database",
    "load_target": "_app",
    "run_app": "_app",
    "served_app": "_app",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
