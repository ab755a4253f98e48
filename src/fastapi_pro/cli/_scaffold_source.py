"""Where a service made by ``fastapi-pro new`` takes fastapi-pro from.

By default, from wherever the fastapi-pro running the command came from, as its installation
records it (PEP 610's ``direct_url.json``): a checkout (editable or not), a wheel or source
archive on disk or at a URL, a Git repository. Installed from a package index, there is no
such record, and the project takes fastapi-pro from an index too. ``--fastapi-pro-source``
names a checkout instead.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

DISTRIBUTION = "fastapi-pro"


@dataclass(frozen=True, slots=True)
class Source:
    """A ``[tool.uv.sources]`` entry for fastapi-pro.

    Attributes:
        fields: The entry's keys and values (``path``, ``editable``, ``url``, ``git``, ``rev``).
        description: What it is, for people: ``the checkout /src/fastapi-pro``.
    """

    fields: tuple[tuple[str, str | bool], ...]
    description: str

    def uv_sources(self) -> str:
        """The ``[tool.uv.sources]`` table of the generated ``pyproject.toml``, commented."""
        entry = ", ".join(f"{key} = {_toml_value(value)}" for key, value in self.fields)
        return (
            f"\n# fastapi-pro from {self.description}, rather than from a\n"
            "# package index. Remove this table to use the published package.\n"
            "[tool.uv.sources]\n"
            f"fastapi-pro = {{ {entry} }}\n"
        )


def resolve_source(checkout: Path | None) -> Source | None:
    """``checkout`` when given (``--fastapi-pro-source``), else the installed fastapi-pro's origin.

    Raises:
        NotADirectoryError: When ``checkout`` is not a fastapi-pro checkout.
    """
    return installed_source() if checkout is None else checkout_source(checkout)


def checkout_source(checkout: Path) -> Source:
    """An editable path to the fastapi-pro checkout ``checkout``, made absolute.

    Raises:
        NotADirectoryError: When ``checkout`` has no ``pyproject.toml`` naming fastapi-pro.
    """
    folder = checkout.expanduser().resolve()
    if not _is_checkout(folder):
        msg = (
            f"--fastapi-pro-source {checkout} is not a fastapi-pro checkout: it has no "
            "pyproject.toml naming the project fastapi-pro."
        )
        raise NotADirectoryError(msg)
    return Source((("path", folder.as_posix()), ("editable", True)), f"the checkout {folder}")


def installed_source(installed: Distribution | None = None) -> Source | None:
    """Where ``installed`` (the running fastapi-pro by default) came from, if not an index.

    ``None`` for a package index, an origin that is gone (a deleted checkout or wheel), or
    one that uv cannot take fastapi-pro from.
    """
    try:
        record = (installed or distribution(DISTRIBUTION)).read_text("direct_url.json")
        origin = json.loads(record) if record else None
    except (PackageNotFoundError, ValueError):  # not installed; a malformed record
        return None
    if not isinstance(origin, dict) or not isinstance(origin.get("url"), str):
        return None
    if urlsplit(origin["url"]).scheme == "file":
        return _local_source(origin)
    return _remote_source(origin)


def _local_source(origin: dict[str, Any]) -> Source | None:
    path = Path(url2pathname(urlsplit(origin["url"]).path))
    if "dir_info" in origin and _is_checkout(path):
        editable = origin["dir_info"].get("editable") is True
        return Source((("path", path.as_posix()), ("editable", editable)), f"the checkout {path}")
    if "archive_info" in origin and path.is_file():
        return Source((("path", path.as_posix()),), f"the file {path}")
    return None


def _remote_source(origin: dict[str, Any]) -> Source | None:
    url: str = origin["url"]
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and "subdirectory" not in origin:
        commit = str(vcs.get("commit_id", ""))
        return Source((("git", url), ("rev", commit)), f"the Git repository {url} at {commit}")
    if "archive_info" in origin and "subdirectory" not in origin:
        return Source((("url", url),), f"the archive {url}")
    return None


def _is_checkout(folder: Path) -> bool:
    try:
        with (folder / "pyproject.toml").open("rb") as file:
            name = tomllib.load(file).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(name, str) and name == DISTRIBUTION


def _toml_value(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # a JSON string is a TOML basic string, once DEL, which TOML wants escaped, is
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
