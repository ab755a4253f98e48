"""``fastapi-pro observability export``: copy the Grafana dashboard and Prometheus rules out.

The files are package data under ``fastapi_pro/observability/_assets``: the dashboard that
``fastapi_pro.observability._grafana`` generates, the recording rules and the alerting rules
(which read the recorded ratios, so Prometheus needs both). They are found through
`importlib.resources`, in an installed wheel as in a checkout, and read as data: no module of
the observability block is imported, so the command is quick and needs no optional extra.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

ASSETS: Traversable = files("fastapi_pro") / "observability" / "_assets"
"""Where the observability block keeps the files, as package data of ``fastapi_pro``.

Anchored on ``fastapi_pro`` rather than ``fastapi_pro.observability``: `files` imports the
package it is given, and the block's facade loads prometheus-client and OpenTelemetry.
"""
FILES = (
    "fastapi-pro-dashboard.json",
    "fastapi-pro-recording-rules.yml",
    "fastapi-pro-alerting-rules.yml",
)
"""What `export` writes, under these names."""


def export(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the dashboard and the rule files into ``directory``, created when missing.

    Args:
        directory: Where to write them.
        force: Overwrite files of the same names; otherwise they are left alone.

    Returns:
        The files written, in the order of `FILES`.

    Raises:
        FileExistsError: When one of the files exists and ``force`` is false; nothing is
            written then.
        OSError: When the directory cannot be created or a file cannot be written.
    """
    targets = [directory / name for name in FILES]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        msg = f"{existing[0]} already exists; pass --force to overwrite the files there."
        raise FileExistsError(msg)
    directory.mkdir(parents=True, exist_ok=True)
    for name, target in zip(FILES, targets, strict=True):
        target.write_bytes((ASSETS / name).read_bytes())
    return targets


def next_steps(written: list[Path]) -> str:
    """How to load what `export` wrote into Grafana and Prometheus."""
    dashboard, recording, alerting = written
    return (
        f"Grafana: Dashboards > New > Import, upload {dashboard}, pick a Prometheus data "
        "source.\n"
        f"Prometheus: list {recording} and {alerting} under rule_files in prometheus.yml, "
        "then reload it."
    )
