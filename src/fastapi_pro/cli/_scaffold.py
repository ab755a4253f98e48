"""``fastapi-pro new``: render the service template into a new project directory.

The template lives in ``fastapi_pro/cli/_templates/service``. Every file there ends in ``.tmpl``
(so this repository's linters and test runner leave it alone), a ``__package__`` directory is
renamed to the package, and ``{{name}}`` markers are replaced by the values of `ProjectName`.
"""

from __future__ import annotations

import functools
import keyword
import re
import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from fastapi_pro.__about__ import __version__
from fastapi_pro.cli._scaffold_source import Source

TEMPLATE = "service"
SUFFIX = ".tmpl"
PACKAGE_DIR = "__package__"

_DISTRIBUTION = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)  # PEP 508
_MARKER = re.compile(r"\{\{(\w+)\}\}")
_PROJECT_FOLDERS = frozenset({"migrations", "tests"})
"""Top-level folders of the generated project, importable from its root in the tests."""
_SERVICE_MODULES = frozenset(
    {
        "fastapi_pro",
        # Modules the generated service installs beyond fastapi-pro's own dependencies (the
        # postgres, redis, otlp and testing extras, alembic, uvicorn[standard], the test and
        # lint groups, and what they pull in): fastapi-pro may run where they are missing.
        *("alembic", "mako", "markupsafe", "asyncpg", "redis", "google", "grpc"),
        *("requests", "urllib3", "certifi", "charset_normalizer", "idna"),
        *("uvicorn", "click", "h11", "httptools", "uvloop", "watchfiles", "websockets"),
        *("dotenv", "yaml", "httpx", "httpcore", "sniffio", "asgi_lifespan"),
        *("pytest", "pytest_asyncio", "pluggy", "iniconfig", "packaging", "pygments", "py"),
        *("mypy", "mypyc", "mypy_extensions", "pathspec", "librt", "ast_serialize", "ruff"),
    }
)
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10))}
)
"""Names Windows reserves in every folder: no file or folder can have them."""


@functools.cache
def taken_names() -> dict[str, str]:
    """Package names a generated service cannot have, each with what it would shadow.

    They are the standard library's modules, the top-level modules of every installed
    distribution (fastapi-pro's dependencies among them, direct or not), the modules the
    service's own dependencies add, and the project's folders; compared in lower case.
    """
    taken = dict.fromkeys(_SERVICE_MODULES, "the service's dependency")
    taken["app"] = "the module name that many tools and projects use,"  # too generic
    installed = packages_distributions()  # top-level import name -> distributions
    taken.update((name.lower(), "the installed module") for name in installed)
    stdlib = sys.stdlib_module_names
    taken.update((name.lower(), "the standard library's module") for name in stdlib)
    taken.update(dict.fromkeys(_PROJECT_FOLDERS, "the project's folder"))
    return taken


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
        for problem_of in _PACKAGE_PROBLEMS:
            problem = problem_of(name, package)
            if problem is not None:
                msg = f"{name!r} gives the package name {package!r}, {problem}"
                raise ValueError(msg)
        title = " ".join(word.capitalize() for word in words)
        return cls(project="-".join(words), package=package, title=title)


def _unimportable(name: str, package: str) -> str | None:
    if package.isidentifier() and not keyword.iskeyword(package):
        return None
    return (
        "which Python cannot import; start the name with a letter and avoid Python keywords "
        f"(e.g. service-{name.lower()})."
    )


def _windows_device(_name: str, package: str) -> str | None:
    if package not in _WINDOWS_DEVICES:
        return None
    return (
        "a reserved device name on Windows, where no folder can have it; choose another name "
        f"(e.g. {_suggestion(package)})."
    )


def _shadowing(_name: str, package: str) -> str | None:
    shadowed = taken_names().get(package)
    if shadowed is None:
        return None
    return (
        f"which would shadow {shadowed} {package!r}; choose a more specific name "
        f"(e.g. {_suggestion(package)})."
    )


def _suggestion(package: str) -> str:
    return f"{package.replace('_', '-')}-service"


_PACKAGE_PROBLEMS = (_unimportable, _windows_device, _shadowing)
"""What makes a package name unusable, in the order they are checked: each gives the end of
the message (after "gives the package name ..."), or ``None`` when the name is free of it."""


def generate(name: ProjectName, directory: Path, *, source: Source | None = None) -> list[Path]:
    """Write a new service for ``name`` into ``directory``, which must be missing or empty.

    Args:
        name: The project's names.
        directory: Where to write it; created with its parents.
        source: Where the project takes fastapi-pro from (``[tool.uv.sources]``); a package
            index when ``None``.

    Returns:
        The files written, relative to ``directory``.

    Raises:
        FileExistsError: When ``directory`` exists and is not empty.
        NotADirectoryError: When ``directory`` is a file.
        OSError: When a file cannot be written; what was written and the folders made for it
            are removed first, so that the same command can run again.
    """
    _check_target(directory)
    values = _values(name, source)
    rendered = [
        (_target_path(relative, name), _render(template.read_text(encoding="utf-8"), values))
        for relative, template in _templates(files("fastapi_pro.cli") / "_templates" / TEMPLATE)
    ]
    if directory.is_dir():
        _write_into_empty(directory, rendered)
    else:
        _write_staged(directory, rendered)
    return [relative for relative, _ in rendered]


def next_steps(name: ProjectName, directory: Path, source: Source | None = None) -> str:
    """What to run in the project just generated for ``name`` in ``directory``.

    The commands need only Python and pip: uv is installed as a module and run as one.
    """
    origin = "a package index" if source is None else source.description
    where = "" if source is None else " ([tool.uv.sources] in pyproject.toml)"
    return (
        f"It takes fastapi-pro from {origin}{where}.\n"
        "Next steps:\n"
        f"  cd {shlex.quote(str(directory))}\n"
        "  python3 -m pip install -q uv              # once; uv runs everything else\n"
        "  cp .env.example .env                      # then set FASTAPI_PRO_AUTH__SECRET_KEY\n"
        "  python3 -m uv run pytest                  # the tests, on a temporary SQLite database\n"
        "  python3 -m uv run alembic upgrade head    # create the tables\n"
        f"  python3 -m uv run uvicorn --factory {name.package}.main:create_app --reload\n"
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


Rendered = list[tuple[Path, str]]


def _write_files(root: Path, rendered: Rendered) -> None:
    for relative, text in rendered:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _write_into_empty(directory: Path, rendered: Rendered) -> None:
    """Write into the existing, empty ``directory``; on failure, empty it again."""
    try:
        _write_files(directory, rendered)
    except BaseException:
        for entry in directory.iterdir():  # it was empty: all of it is ours
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        raise


def _write_staged(directory: Path, rendered: Rendered) -> None:
    """Write into a hidden folder next to ``directory``, then rename it to ``directory``.

    On failure, the staging folder goes, and so do the parent folders made for it.
    """
    made = _topmost_missing(directory.parent)
    staging = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.partial"
    try:
        staging.mkdir(parents=True)  # with the umask's permissions, unlike mkdtemp's 0o700
        _write_files(staging, rendered)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(made or staging, ignore_errors=True)
        raise


def _topmost_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet, if any."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


def _values(name: ProjectName, source: Source | None) -> dict[str, str]:
    return {
        "project_name": name.project,
        "package_name": name.package,
        "title": name.title,
        "fastapi_pro_version": __version__,
        "uv_sources": "" if source is None else source.uv_sources(),
    }


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
