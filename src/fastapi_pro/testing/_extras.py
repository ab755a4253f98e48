"""Optional dependencies of the pytest plugin, imported only when a fixture needs them."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# The distribution that provides each module, and the extra of fastapi-pro that installs it.
_EXTRA_OF = {
    "pytest_asyncio": ("pytest-asyncio", "testing"),
    "httpx": ("httpx", "testing"),
    "asgi_lifespan": ("asgi-lifespan", "testing"),
    "asyncpg": ("asyncpg", "postgres"),
}


# What the plugin's fixtures import: without any of them, every fixture fails naming the extra.
PLUGIN_REQUIRES = ("pytest_asyncio", "httpx", "asgi_lifespan")


def first_missing(modules: tuple[str, ...] = PLUGIN_REQUIRES) -> str | None:
    """The first of ``modules`` that cannot be imported, without importing any; None if none."""
    return next((name for name in modules if importlib.util.find_spec(name) is None), None)


class MissingExtraError(ImportError):
    """A fixture needs a package that one of fastapi-pro's extras installs."""


def missing_extra_message(module: str) -> str:
    """The message naming the extra to install for ``module``."""
    distribution, extra = _EXTRA_OF.get(module, (module, "testing"))
    return (
        f"fastapi-pro's pytest fixtures need {distribution}, which is not installed. "
        f"Install the {extra!r} extra: pip install 'fastapi-pro[{extra}]'"
    )


def require(module: str) -> ModuleType:
    """Import ``module``, or raise `MissingExtraError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(missing_extra_message(module), name=module) from error
