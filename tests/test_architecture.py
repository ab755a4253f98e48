"""docs/architecture.md draws the packages' layers and lists who imports whom: both match the code.

The drawing's layers are the `layers` contract that `lint-imports` checks in CI, and the table is
read from the import graph itself (grimp, the graph import-linter checks).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from tests.doc_pages import ROOT, code_blocks

PAGE = ROOT / "docs" / "architecture.md"
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
ROW = re.compile(r"^\| `(\w+)` \|(.*)\|$", re.MULTILINE)


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _drawn_layers() -> list[str]:
    (drawing,) = (block.text for block in code_blocks(PAGE) if block.lang == "text")
    layers = []
    for line in drawing.splitlines():
        names = re.split(r"\s{2,}", line.strip())[0]
        if names and names != "|":
            parts = (name.strip() for name in names.split("|"))
            layers.append(" | ".join(_qualified(part) for part in sorted(parts)))
    return layers


def _qualified(name: str) -> str:
    return name if name.startswith("fastapi_pro.") else f"fastapi_pro.{name}"


def _package_imports() -> dict[str, set[str]]:
    graph = grimp.build_graph("fastapi_pro")
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        importer = _package(module)
        if importer in {None, "__about__"}:  # the version string: a module, not a package
            continue
        imported = {_package(m) for m in graph.find_modules_directly_imported_by(module)}
        edges.setdefault(importer, set()).update(imported - {importer, None, "__about__"})
    return edges


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_drawing_is_the_layers_contract() -> None:
    contract = _contracts()["layers"]
    configured = [
        " | ".join(sorted(name.strip() for name in str(layer).split("|")))
        for layer in contract["layers"]  # type: ignore[attr-defined]
    ]
    assert _drawn_layers() == configured


def test_the_table_lists_every_import_between_packages() -> None:
    listed = {
        package: set(re.findall(r"`(\w+)`", imports))
        for package, imports in ROW.findall(PAGE.read_text())
    }
    assert listed == _package_imports()


def test_every_package_of_the_library_is_in_a_layer() -> None:
    drawn = {name for layer in _drawn_layers() for name in layer.split(" | ")}
    packages = {f"fastapi_pro.{package}" for package in _package_imports()}
    assert packages == drawn


@pytest.mark.parametrize("contract", ["layers", "private", "acyclic"])
def test_the_contracts_are_kept(contract: str) -> None:
    result = subprocess.run(
        [LINT_IMPORTS, "--contract", contract, "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:]
