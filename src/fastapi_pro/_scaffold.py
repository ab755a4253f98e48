"""``fastapi-pro new``: render the service template into a new project directory.

The template lives in ``fastapi_pro/_templates/service``. Every file there ends in ``.tmpl``
(so this repository's linters and test runner leave it alone), a ``__package__`` directory is
renamed to the package, and ``{{name}}`` markers are replaced by the values of `ProjectName`.
"""

from __future__ import annotations

import keyword
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from fastapi_pro.__about__ import __version__

TEMPLATE = "service"
SUFFIX = ".tmpl"
PACKAGE_DIR = "__package__"

_DISTRIBUTION = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)  # PEP 508
_MARKER = re.compile(r"\{\{(\w+)\}\}")
_TAKEN = frozenset(
    {
        "alembic",
        "app",  # too generic: clashes with many tools' defaults and other projects' modules
        "fastapi",
        "fastapi_pro",
        "httpx",
        "migrations",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "sqlalchemy",
        "starlette",
        "tests",
        "uvicorn",
    }
)
"""Package names that would shadow a dependency or a folder of the generated project."""


@dataclass(frozen=True, slots=True)
class ProjectName:
    """The names derived from ``fastapi-pro new NAME``.

    Attributes:
        project: The distribution name, normalized (``my-service``).
        package: The import name, its snake_case (``my_service``).
        title: A human title (``My Service``), for the API docs and the README.
    """

    project: str
    package: str
    title: str

    @classmethod
    def parse(cls, name: str) -> ProjectName:
        """Check ``name`` and derive the package name and title from it.

        Raises:
            ValueError: When ``name`` is not a distribution name whose snake_case is a free,
                importable package name.
        """
        if not _DISTRIBUTION.fullmatch(name):
            msg = (
                f"{name!r} is not a valid project name: use letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit (e.g. my-service)."
            )
            raise ValueError(msg)
        words = [word for word in re.split(r"[-_.]+", name.lower()) if word]
        package = "_".join(words)
        if not package.isidentifier() or keyword.iskeyword(package):
            msg = (
                f"{name!r} gives the package name {package!r}, which Python cannot import; "
                "start the name with a letter and avoid Python keywords (e.g. "
                f"service-{name.lower()})."
            )
            raise ValueError(msg)
        if package in _TAKEN or package in sys.stdlib_module_names:
            msg = (
                f"{name!r} gives the package name {package!r}, which would shadow the module "
                f"{package!r} that the service needs; choose a more specific name "
                f"(e.g. {package.replace('_', '-')}-service)."
            )
            raise ValueError(msg)
        title = " ".join(word.capitalize() for word in words)
        return cls(project="-".join(words), package=package, title=title)


def generate(
    name: ProjectName, directory: Path, *, fastapi_pro_source: Path | None = None
) -> list[Path]:
    """Write a new service for ``name`` into ``directory``, which must be missing or empty.

    Args:
        name: The project's names.
        directory: Where to write it; created with its parents.
        fastapi_pro_source: A fastapi-pro checkout the project takes fastapi-pro from
            (``[tool.uv.sources]``), for versions not published on an index.

    Returns:
        The files written, relative to ``directory``.

    Raises:
        FileExistsError: When ``directory`` exists and is not empty.
        NotADirectoryError: When ``directory`` is a file, or the source is not a checkout.
    """
    _check_target(directory)
    values = _values(name, fastapi_pro_source)
    rendered = [
        (_target_path(relative, name), _render(template.read_text(encoding="utf-8"), values))
        for relative, template in _templates(files("fastapi_pro") / "_templates" / TEMPLATE)
    ]
    for relative, text in rendered:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [relative for relative, _ in rendered]


def next_steps(name: ProjectName, directory: Path) -> str:
    """What to run in the project just generated for ``name`` in ``directory``."""
    return (
        "Next steps:\n"
        f"  cd {directory}\n"
        "  cp .env.example .env           # then set FASTAPI_PRO_AUTH__SECRET_KEY\n"
        "  uv run pytest                  # the tests, on a temporary SQLite database\n"
        "  uv run alembic upgrade head    # create the tables\n"
        f"  uv run uvicorn --factory {name.package}.main:create_app --reload\n"
        "See README.md for the rest."
    )


def _check_target(directory: Path) -> None:
    if directory.is_file():
        msg = f"{directory} is a file; give a directory that is missing or empty."
        raise NotADirectoryError(msg)
    if directory.is_dir() and any(directory.iterdir()):
        msg = (
            f"{directory} already exists and is not empty; nothing was written. Choose "
            "another --directory, or empty this one."
        )
        raise FileExistsError(msg)


def _values(name: ProjectName, source: Path | None) -> dict[str, str]:
    return {
        "project_name": name.project,
        "package_name": name.package,
        "title": name.title,
        "fastapi_pro_version": __version__,
        "uv_sources": _uv_sources(source),
    }


def _uv_sources(source: Path | None) -> str:
    if source is None:
        return ""
    checkout = source.expanduser().resolve()
    if _distribution_at(checkout) != "fastapi-pro":
        msg = (
            f"--fastapi-pro-source {source} is not a fastapi-pro checkout: it has no "
            "pyproject.toml naming the project fastapi-pro."
        )
        raise NotADirectoryError(msg)
    path = checkout.as_posix().replace("\\", "\\\\").replace('"', '\\"')
    return (
        "\n# fastapi-pro from a local checkout rather than an index (editable: its changes\n"
        "# apply without a reinstall). Remove this table to use the published package.\n"
        "[tool.uv.sources]\n"
        f'fastapi-pro = {{ path = "{path}", editable = true }}\n'
    )


def _distribution_at(checkout: Path) -> str | None:
    try:
        with (checkout / "pyproject.toml").open("rb") as file:
            name = tomllib.load(file).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return name if isinstance(name, str) else None


Template = tuple[tuple[str, ...], Traversable]


def _templates(root: Traversable, prefix: tuple[str, ...] = ()) -> list[Template]:
    found: list[Template] = []
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if entry.is_dir():
            found.extend(_templates(entry, (*prefix, entry.name)))
        elif entry.name.endswith(SUFFIX):
            found.append(((*prefix, entry.name), entry))
    return found


def _target_path(relative: tuple[str, ...], name: ProjectName) -> Path:
    parts = [name.package if part == PACKAGE_DIR else part for part in relative]
    parts[-1] = parts[-1].removesuffix(SUFFIX)
    return Path(*parts)


def _render(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        return values[match.group(1)]  # an unknown marker is a bug of the template: KeyError

    return _MARKER.sub(replace, text)
