"""Preparing the collected tests that use the app: isolation first, the session's event loop.

A test uses the app when the closure of its fixtures holds one of the plugin's fixtures and
`fastapi_app` (the plugin's or a project's override). Such a test sets up the rolled-back
transaction after its wider-scoped fixtures and before its function-scoped ones, runs in the
session's event loop, where the app and its engine live, and is refused at set-up when it, or
a project fixture that reaches the app, asks for another loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from fastapi_pro.testing._fixtures import MODULES

APP_FIXTURE = "fastapi_app"
ISOLATION_FIXTURE = "_fastapi_pro_isolation"

FixtureDefs = dict[str, Sequence[pytest.FixtureDef[Any]]]

# Why the test must not run, found at collection and reported at set-up.
REFUSAL = pytest.StashKey[str]()


def fixture_defs(item: pytest.Item) -> FixtureDefs:
    """The definitions of each fixture in ``item``'s closure, the active one last."""
    info = getattr(item, "_fixtureinfo", None)
    return dict(getattr(info, "name2fixturedefs", None) or {})


def is_ours(fixturedef: pytest.FixtureDef[Any]) -> bool:
    """Whether the plugin defines ``fixturedef``."""
    return getattr(fixturedef.func, "__module__", None) in MODULES


def app_test_fixtures(item: pytest.Item, defs: FixtureDefs) -> list[str] | None:
    """The fixture closure of a test that uses the app through the plugin; None for others."""
    names: list[str] | None = getattr(item, "fixturenames", None)
    if names is None or APP_FIXTURE not in names:
        return None
    return names if any(is_ours(chain[-1]) for chain in defs.values() if chain) else None


def prepare(
    item: pytest.Item,
    names: list[str],
    defs: FixtureDefs,
    is_async: Callable[[pytest.Item], bool],
) -> None:
    """Order the fixtures ``names`` of ``item``, give it the session's loop, note refusals."""
    _isolate_first(names, defs)
    # The test's own loop scope is reported before its fixtures'.
    refusals = (_run_in_session_loop(item) if is_async(item) else None, _app_loop_error(item, defs))
    refusal = next((message for message in refusals if message), None)
    if refusal is not None:
        item.stash[REFUSAL] = refusal


def _isolate_first(names: list[str], defs: FixtureDefs) -> None:
    """Set the isolation up after the wider-scoped fixtures, before the function-scoped ones.

    What the wider-scoped fixtures write must outlive the test; what the project's
    function-scoped ones write must not. Wherever the closure put the isolation, it moves.
    """
    if ISOLATION_FIXTURE in names:
        names.remove(ISOLATION_FIXTURE)
    scopes = (defs[name][-1].scope if defs.get(name) else None for name in names)
    first = next((i for i, scope in enumerate(scopes) if scope == "function"), len(names))
    names.insert(first, ISOLATION_FIXTURE)


def _run_in_session_loop(item: pytest.Item) -> str | None:
    """Give an async test the session's loop; if it asks for another, say why it must not run."""
    scopes = {
        mark.kwargs.get("loop_scope") or mark.kwargs.get("scope")
        for mark in item.iter_markers("asyncio")
    } - {None}
    if not scopes:
        item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
    if scopes <= {"session"}:
        return None
    return (
        f"{item.nodeid} uses fastapi-pro's app fixtures, which run in the session's event "
        f"loop, but asks for loop_scope={sorted(map(str, scopes))[0]!r}. Remove loop_scope "
        "from its asyncio marker or set it to 'session'."
    )


def _fixture_loop_scope(fixturedef: pytest.FixtureDef[Any], config: pytest.Config) -> str | None:
    """The event loop an async fixture runs in, as pytest-asyncio will decide; None if none."""
    if not _run_by_pytest_asyncio(fixturedef.func, config):
        return None
    scope = getattr(fixturedef.func, "_loop_scope", None)
    if scope:
        return str(scope)
    default = config.getini("asyncio_default_fixture_loop_scope")
    if default and default != "fixture-scope":
        return str(default)
    return str(fixturedef.scope)


def _run_by_pytest_asyncio(func: Any, config: pytest.Config) -> bool:
    if getattr(func, "_force_asyncio_fixture", False):  # @pytest_asyncio.fixture
        return True
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return False
    # Strict mode leaves undecorated async fixtures to pytest itself.
    mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
    return bool(mode == "auto")


class _AppReach:
    """Which definitions of a test's fixtures reach the app, and through which argument.

    A definition that requests its own name reaches the definition it overrides (the one
    before it in the chain); any other argument, that argument's active definition.
    """

    def __init__(self, defs: FixtureDefs) -> None:
        self._defs = defs
        self._memo: dict[int, bool] = {}

    def reaches(self, name: str, index: int = -1) -> bool:
        """Whether definition ``index`` of ``name`` is, or requests, the app."""
        chain = self._defs.get(name, ())
        if name == APP_FIXTURE or -index > len(chain):
            return name == APP_FIXTURE
        key = id(chain[index])
        if key not in self._memo:
            self._memo[key] = False  # cycles count as not reaching the app
            self._memo[key] = self.via(name, index) is not None
        return self._memo[key]

    def via(self, name: str, index: int) -> str | None:
        """The first argument through which definition ``index`` of ``name`` reaches the app."""
        arguments = self._defs[name][index].argnames
        return next(
            (arg for arg in arguments if self.reaches(arg, _requested(arg, name, index))), None
        )

    def loop_error(self, name: str, index: int, config: pytest.Config) -> str | None:
        """Why definition ``index`` of ``name`` must not use the app, if it must not."""
        fixturedef = self._defs[name][index]
        if is_ours(fixturedef) or not self.reaches(name, index):
            return None
        loop_scope = _fixture_loop_scope(fixturedef, config)
        if loop_scope in {None, "session"}:
            return None
        return (
            f"Fixture {name!r} uses the app (through {self.via(name, index)!r}) but runs in the "
            f"{loop_scope!r} event loop, while the app and its engine live in the session's. "
            'Declare it with @pytest_asyncio.fixture(loop_scope="session"), or set '
            'asyncio_default_fixture_loop_scope = "session" in the pytest configuration.'
        )


def _requested(argument: str, name: str, index: int) -> int:
    """The definition of ``argument`` that definition ``index`` of ``name`` requests."""
    return index - 1 if argument == name else -1


def _definitions(item: pytest.Item, defs: FixtureDefs) -> Iterator[tuple[str, int]]:
    """The definitions of ``item``'s fixtures, the app's aside, that the test sets up.

    For each fixture, its active definition, then each one it overrides and reaches by
    requesting its own name.
    """
    for name in getattr(item, "fixturenames", ()):
        chain = defs.get(name) or ()
        index = -1
        while name != APP_FIXTURE and -index <= len(chain):
            yield name, index
            if name not in chain[index].argnames:
                break
            index -= 1


def _app_loop_error(item: pytest.Item, defs: FixtureDefs) -> str | None:
    """Name a fixture of the project's that uses the app from another event loop, if any."""
    reach = _AppReach(defs)
    errors = (
        reach.loop_error(name, index, item.config) for name, index in _definitions(item, defs)
    )
    return next((error for error in errors if error is not None), None)
