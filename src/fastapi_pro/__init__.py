"""Production building blocks for FastAPI services.

Each block lives in its own subpackage (``fastapi_pro.errors``, ...) and works with a plain
``FastAPI()`` app; `setup` wires all of them onto one app from `Settings`. Importing this
package starts no threads, opens no connections, and loads neither FastAPI nor
pydantic-settings until one of its names is used.
"""

from typing import TYPE_CHECKING, Any

from fastapi_pro.__about__ import __version__

if TYPE_CHECKING:
    from fastapi_pro.app import Components, setup
    from fastapi_pro.settings import Settings

_LAZY = {
    "Components": "fastapi_pro.app",
    "Settings": "fastapi_pro.settings",
    "setup": "fastapi_pro.app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fastapi_pro' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib  # noqa: PLC0415 - the facade loads its members on first use

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = ["Components", "Settings", "__version__", "setup"]
