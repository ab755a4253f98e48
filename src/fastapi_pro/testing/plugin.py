"""The pytest plugin (entry point ``pytest11``): fixtures for testing a FastAPI service.

Dormant until a project configures it: it registers options and fixtures, and touches nothing
until a test asks for one of its fixtures. Importing it is cheap and never fails when the
``testing`` extra is missing; the fixtures then fail with a message naming the extra.

The fixtures live in the modules of `fastapi_pro.testing._fixtures`, which pytest registers
as plugins right after this one (``pytest_plugins``): a project's conftest fixture of the same
name wins over them, as over any plugin's.
"""

from __future__ import annotations

import pytest

from fastapi_pro.testing import _collection, _options
from fastapi_pro.testing._extras import first_missing
from fastapi_pro.testing._fixtures import MODULES, UNAVAILABLE

_MISSING = first_missing()

pytest_plugins = list(MODULES) if _MISSING is None else [UNAVAILABLE]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's ini options and command-line flag."""
    _options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker (a marker of its own, so strict markers keep working)."""
    for marker in _options.MARKERS:
        config.addinivalue_line("markers", marker)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Prepare the tests that use the plugin's fixtures; leave every other test as it is.

    They run in the rolled-back transaction and in the session's event loop, where the app's
    engine lives; a project fixture that uses the app from another loop is reported at set-up.
    """
    if _MISSING is not None or not config.pluginmanager.hasplugin("asyncio"):
        return  # without pytest-asyncio running, nothing here applies
    from pytest_asyncio import is_async_test  # noqa: PLC0415 - only when installed

    for item in items:
        defs = _collection.fixture_defs(item)
        names = _collection.app_test_fixtures(item, defs)
        if names is not None:  # else no fixture of this plugin, or no app: dormant
            _collection.prepare(item, names, defs, is_async_test)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse a test, or a fixture of it, that asks for another event loop than the app's."""
    refusal = item.stash.get(_collection.REFUSAL, None)
    if refusal:
        pytest.fail(refusal, pytrace=False)
