"""The ``fastapi-pro`` subcommands: each one's help and options, and what it runs.

The options are declared in `COMMANDS`, a table that `fastapi_pro.cli.build_parser` turns into
the parser; each ``_run_*`` function loads the modules of its command when it runs, so
``--help`` and argument errors load only the standard library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi_pro.cli._arguments import Command, CommandGroup, Option, port, positive, project_name
from fastapi_pro.cli._errors import CommandError


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


DEMO = Command(
    name="demo",
    help="seed and serve the orders example service",
    description=(
        "Serve the orders example (users, products, orders) with demo accounts and "
        "products, and print how to sign in. The database is created and seeded first; "
        "seeding again adds nothing. The demo reads no .env file and touches no database "
        "but its own. Needs uvicorn: pip install 'fastapi-pro[demo]'."
    ),
    run=_run_demo,
    options=(
        Option(name="--host", default="127.0.0.1", help="interface to bind (%(default)s)"),
        Option(name="--port", type=port, default=8000, help="port to listen on (%(default)s)"),
        Option(
            name="--database-url",
            metavar="URL",
            help=(
                "database URL, e.g. postgresql://user@host/db (default: the demo's own SQLite "
                "file ./fastapi-pro-demo.db; FASTAPI_PRO_DATABASE__URL and .env are not read)"
            ),
        ),
        Option(name="--workers", type=positive, default=1, help="worker processes (%(default)s)"),
    ),
)

NEW = Command(
    name="new",
    help="generate a new service",
    description=(
        "Generate a service in the modular layout of the orders example: an `items` "
        "module, tests on the pytest plugin, Alembic migrations, ruff and mypy strict "
        "configuration, a Dockerfile and a README saying how to run it."
    ),
    run=_run_new,
    options=(
        Option(
            name="name",
            metavar="NAME",
            type=project_name,
            help="distribution name, e.g. my-service (the package is its snake_case: my_service)",
        ),
        Option(
            name="--directory",
            metavar="DIR",
            type=Path,
            help="where to generate it, missing or empty (default: ./NAME)",
        ),
        Option(
            name="--fastapi-pro-source",
            metavar="PATH",
            type=Path,
            help=(
                "take fastapi-pro from this local checkout (editable, in [tool.uv.sources]); by "
                "default, from where the running fastapi-pro was installed from: its checkout, "
                "wheel or repository, else a package index"
            ),
        ),
    ),
)

OBSERVABILITY = CommandGroup(
    name="observability",
    help="export the Grafana dashboard and the Prometheus rules",
    description="Files for operating a fastapi-pro service with Grafana and Prometheus.",
    actions=(
        Command(
            name="export",
            help="write the dashboard and the rule files into a directory",
            description=(
                "Write fastapi-pro-dashboard.json (import it into Grafana), "
                "fastapi-pro-recording-rules.yml and fastapi-pro-alerting-rules.yml (list both "
                "under rule_files in prometheus.yml). Existing files are left alone unless "
                "--force is given."
            ),
            run=_run_observability_export,
            options=(
                Option(
                    name="--out",
                    metavar="DIR",
                    type=Path,
                    default=Path("observability"),
                    help="directory to write into, created when missing (%(default)s)",
                ),
                Option(name="--force", switch=True, help="overwrite files already there"),
            ),
        ),
    ),
)

COMMANDS: tuple[Command | CommandGroup, ...] = (DEMO, NEW, OBSERVABILITY)
"""The subcommands, in the order ``fastapi-pro --help`` lists them."""
