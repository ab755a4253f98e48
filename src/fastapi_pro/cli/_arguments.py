"""How the ``fastapi-pro`` subcommands are declared, and the checks of their option values.

A subcommand is data: a `Command` lists its `Option` entries and names the function that runs
it; a `CommandGroup` (``observability``) holds commands of its own, its actions. Each adds
itself to an `argparse` parser. A value check raises `argparse.ArgumentTypeError` with a
sentence, which argparse prints after ``argument --NAME:`` and exits with status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi_pro.cli._scaffold import ProjectName

Run = Callable[[argparse.Namespace], None]
"""What a command does with the parsed arguments; it raises `CommandError` to stop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One option (``--port``) or positional argument (``name``) of a command.

    Attributes:
        name: The option's flag, or the attribute name of a positional argument.
        help: Its line in ``--help``; ``%(default)s`` shows the default.
        metavar: The placeholder for its value in ``--help`` and in error messages.
        type: Turns the text given into the value, or raises `argparse.ArgumentTypeError`;
            the text itself by default.
        default: The value when the option is not given.
        switch: An option without a value, true when given (``--force``).
    """

    name: str
    help: str
    metavar: str | None = None
    type: Callable[[str], object] = str
    default: object = None
    switch: bool = False

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Declare the option on ``parser``."""
        if self.switch:
            parser.add_argument(self.name, action="store_true", help=self.help)
            return
        parser.add_argument(
            self.name, metavar=self.metavar, type=self.type, default=self.default, help=self.help
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A subcommand: its help, its options, and the function that runs it."""

    name: str
    help: str
    description: str
    run: Run
    options: tuple[Option, ...] = ()

    def add_to(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Declare the command, with its options, among ``commands``."""
        parser = commands.add_parser(self.name, help=self.help, description=self.description)
        for option in self.options:
            option.add_to(parser)
        parser.set_defaults(run=self.run)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandGroup:
    """A subcommand that only groups others, its actions: ``observability export``."""

    name: str
    help: str
    description: str
    actions: tuple[Command, ...]

    def add_to(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Declare the group among ``commands``, with its actions; one of them is required."""
        parser = commands.add_parser(self.name, help=self.help, description=self.description)
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action in self.actions:
            action.add_to(actions)


def project_name(value: str) -> ProjectName:
    """The `ProjectName` that ``value`` gives, checked as ``fastapi-pro new`` needs it."""
    from fastapi_pro.cli._scaffold import ProjectName  # noqa: PLC0415 - loaded on use

    try:
        return ProjectName.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(value: str) -> int:
    """``value`` as a whole number of 1 or more."""
    number = _integer(value)
    if number < 1:
        msg = f"{value!r} is not a whole number of 1 or more."
        raise argparse.ArgumentTypeError(msg)
    return number


def port(value: str) -> int:
    """``value`` as a TCP port."""
    number = _integer(value)
    if not 0 <= number <= 65535:  # noqa: PLR2004 - the TCP port range
        msg = f"{value!r} is not a TCP port (0 to 65535)."
        raise argparse.ArgumentTypeError(msg)
    return number


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        msg = f"{value!r} is not a whole number."
        raise argparse.ArgumentTypeError(msg) from None
