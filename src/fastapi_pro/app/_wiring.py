"""How a block plugs into `setup`: a `Block` with three optional steps, sharing a `Wiring`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from fastapi import FastAPI

from fastapi_pro._shared.state import AppFlag
from fastapi_pro.app._components import Components
from fastapi_pro.app._lifespan import Step
from fastapi_pro.app._switches import Options
from fastapi_pro.settings import Settings

T = TypeVar("T")


@dataclass(slots=True)
class Wiring:
    """What the blocks share while `setup` runs on one app.

    Attributes:
        app: The app being set up.
        settings: The settings every block is built from.
        options: The switches `setup` was given, defaults filled in.
        components: What the blocks built so far.
        startup: Steps run at start-up, once the database is registered, in this order.
        shutdown: Steps run at shutdown, after the app's own lifespan, last first.
    """

    app: FastAPI
    settings: Settings
    options: Options
    components: Components
    startup: list[Step] = field(default_factory=list)
    shutdown: list[Step] = field(default_factory=list)

    def add(self, **parts: Any) -> None:
        """Record what a block built (`Components` field names)."""
        self.components = replace(self.components, **parts)

    def refuse_installed(self, flag: AppFlag, switch: str) -> None:
        """Refuse an app whose installer for ``switch`` already ran by hand.

        Raises:
            RuntimeError: Naming the call to remove, or the switch to turn off.
        """
        if flag.is_set(self.app):
            msg = (
                f"{flag.installer}() was already called on this app; setup() installs it "
                f"too. Remove that call, or pass {switch}=False."
            )
            raise RuntimeError(msg)


class Block:
    """One block's part in `setup`; each step is optional.

    `setup` runs `check` for every block, then `build` for every block, then `install`, each
    time in the order of its block table: a refused call leaves the app as it was, and a
    block builds on what the blocks before it built (``wiring.components``).
    """

    def check(self, wiring: Wiring) -> None:
        """Refuse a call that cannot succeed, before anything is built or installed."""

    def build(self, wiring: Wiring) -> None:
        """Build the block's component from the settings and `Wiring.add` it."""

    def install(self, wiring: Wiring) -> None:
        """Install the block on the app, and add its start-up and shutdown steps."""


def chosen(given: bool | T, kind: type[T], build: Callable[[], T | None]) -> T | None:
    """The instance a switch was given, a built one for ``True``, or ``None`` for ``False``."""
    if isinstance(given, kind):
        return given
    return build() if given is True else None
