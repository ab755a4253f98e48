"""The ``fastapi-pro`` command's entry point: parse the arguments, run the subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fastapi_pro.__about__ import __version__
from fastapi_pro.cli._arguments import Run
from fastapi_pro.cli._commands import COMMANDS
from fastapi_pro.cli._errors import CommandError

PROG = "fastapi-pro"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastapi-pro`` with ``argv`` (the process's arguments when omitted).

    Returns:
        The exit status: 0 on success, 1 when the command failed, 2 for bad arguments.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Run = args.run
    try:
        run(args)
    except CommandError as error:
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        print(f"{PROG} {command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastapi-pro`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Tools for FastAPI services built with fastapi-pro."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(commands)
    return parser
