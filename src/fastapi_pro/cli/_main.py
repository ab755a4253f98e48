"""The ``fastapi-pro`` command's parser and its subcommands' entry points."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi_pro.__about__ import __version__
from fastapi_pro.cli._errors import CommandError

PROG = "fastapi-pro"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastapi-pro`` with ``argv`` (the process's arguments when omitted).

    Returns:
        The exit status: 0 on success, 1 when the command failed, 2 for bad arguments.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
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
    _add_demo(commands)
    _add_new(commands)
    _add_observability(commands)
    return parser


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="seed and serve the orders example service",
        description=(
            "Serve the orders example (users, products, orders) with demo accounts and "
            "products, and print how to sign in. The database is created and seeded first; "
            "seeding again adds nothing. The demo reads no .env file and touches no database "
            "but its own. Needs uvicorn: pip install 'fastapi-pro[demo]'."
        ),
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface to bind (%(default)s)")
    demo.add_argument("--port", type=_port, default=8000, help="port to listen on (%(default)s)")
    demo.add_argument(
        "--database-url",
        metavar="URL",
        help=(
            "database URL, e.g. postgresql://user@host/db (default: the demo's own SQLite "
            "file ./fastapi-pro-demo.db; FASTAPI_PRO_DATABASE__URL and .env are not read)"
        ),
    )
    demo.add_argument("--workers", type=_positive, default=1, help="worker processes (%(default)s)")
    demo.set_defaults(run=_run_demo)


def _add_new(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    new = commands.add_parser(
        "new",
        help="generate a new service",
        description=(
            "Generate a service in the modular layout of the orders example: an `items` "
            "module, tests on the pytest plugin, Alembic migrations, ruff and mypy strict "
            "configuration, a Dockerfile and a README saying how to run it."
        ),
    )
    new.add_argument(
        "name",
        metavar="NAME",
        type=_project_name,
        help="distribution name, e.g. my-service (the package is its snake_case: my_service)",
    )
    new.add_argument(
        "--directory",
        metavar="DIR",
        type=Path,
        help="where to generate it, missing or empty (default: ./NAME)",
    )
    new.add_argument(
        "--fastapi-pro-source",
        metavar="PATH",
        type=Path,
        help=(
            "take fastapi-pro from this local checkout (editable, in [tool.uv.sources]); by "
            "default, from where the running fastapi-pro was installed from: its checkout, "
            "wheel or repository, else a package index"
        ),
    )
    new.set_defaults(run=_run_new)


def _add_observability(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    observability = commands.add_parser(
        "observability",
        help="export the Grafana dashboard and the Prometheus rules",
        description="Files for operating a fastapi-pro service with Grafana and Prometheus.",
    )
    actions = observability.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the dashboard and the rule files into a directory",
        description=(
            "Write fastapi-pro-dashboard.json (import it into Grafana), "
            "fastapi-pro-recording-rules.yml and fastapi-pro-alerting-rules.yml (list both "
            "under rule_files in prometheus.yml). Existing files are left alone unless "
            "--force is given."
        ),
    )
    export.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("observability"),
        help="directory to write into, created when missing (%(default)s)",
    )
    export.add_argument("--force", action="store_true", help="overwrite files already there")
    export.set_defaults(run=_run_observability_export)


def _run_demo(args: argparse.Namespace) -> None:
    from fastapi_pro.cli._demo import DemoOptions, serve  # noqa: PLC0415 - loaded on use

    serve(
        DemoOptions(
            host=args.host, port=args.port, database_url=args.database_url, workers=args.workers
        )
    )


def _run_new(args: argparse.Namespace) -> None:
    from fastapi_pro.cli._scaffold import generate, next_steps  # noqa: PLC0415 - loaded on use
    from fastapi_pro.cli._scaffold_source import resolve_source  # noqa: PLC0415

    directory: Path = args.directory or Path(args.name.project)
    try:
        source = resolve_source(args.fastapi_pro_source)
        written = generate(args.name, directory, source=source)
    except ValueError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        if error.errno is None:  # generate's own refusals, a sentence each
            raise CommandError(str(error)) from None
        msg = f"cannot write {directory}: {error.strerror}"  # it removed what it wrote
        raise CommandError(msg) from None
    print(f"Created {args.name.project} in {directory} ({len(written)} files).")
    print(next_steps(args.name, directory, source))


def _run_observability_export(args: argparse.Namespace) -> None:
    from fastapi_pro.cli._observability_export import export, next_steps  # noqa: PLC0415

    try:
        written = export(args.out, force=args.force)
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"cannot write {args.out}: {error.strerror}") from None
    for path in written:
        print(f"Wrote {path}")
    print(next_steps(written))


def _project_name(value: str) -> object:
    from fastapi_pro.cli._scaffold import ProjectName  # noqa: PLC0415 - loaded on use

    try:
        return ProjectName.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(value: str) -> int:
    number = _integer(value)
    if number < 1:
        msg = f"{value!r} is not a whole number of 1 or more."
        raise argparse.ArgumentTypeError(msg)
    return number


def _port(value: str) -> int:
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
