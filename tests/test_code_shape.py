"""The shape of the library's code: no function longer than the project's bar.

A function's length is its body's code lines: the lines after the docstring, without blank
and comment-only lines (a nested function's lines count in the function around it too).
Cyclomatic complexity is ruff's part (C901, ``max-complexity = 10`` in pyproject.toml).
"""

from __future__ import annotations

import ast
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "fastapi_pro"
MAX_LINES = 20

# Functions allowed past MAX_LINES, by "path/under/src/fastapi_pro.py::Qualified.name", each
# with the reason it stays longer. An entry whose function is back within the limit fails the
# test too: remove it.
ALLOWED: dict[str, str] = {}

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Measured:
    """One function of the library and its body's code lines."""

    key: str
    lines: int


def body_code_lines(source_lines: list[str], node: Function) -> int:
    """Count the code lines of ``node``'s body after its docstring."""
    body = node.body
    first = body[0]
    has_docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    docstring = range(first.lineno, (first.end_lineno or first.lineno) + 1) if has_docstring else ()
    start = body[1].lineno if has_docstring and len(body) > 1 else first.lineno
    end = node.end_lineno or node.lineno
    return sum(
        1
        for number in range(start, end + 1)
        if number not in docstring
        and (text := source_lines[number - 1].strip())
        and not text.startswith("#")
    )


def measure(path: Path) -> list[Measured]:
    """Every function and method in ``path``, by qualified name."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    module = path.relative_to(SRC).as_posix()
    found: list[Measured] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = getattr(child, "name", "")
            if isinstance(child, Function):
                qualified = f"{scope}{name}"
                found.append(Measured(f"{module}::{qualified}", body_code_lines(lines, child)))
                visit(child, f"{qualified}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{scope}{name}.")
            else:
                visit(child, scope)

    visit(ast.parse(text, filename=str(path)), "")
    return found


@pytest.fixture(scope="module")
def measured() -> list[Measured]:
    return [function for path in sorted(SRC.rglob("*.py")) for function in measure(path)]


def figures(measured: list[Measured]) -> str:
    over = sum(1 for function in measured if function.lines > MAX_LINES)
    median = statistics.median(function.lines for function in measured)
    return f"{len(measured)} functions, median {median:g} lines, {over} over {MAX_LINES}"


def test_no_function_is_longer_than_the_bar_unless_allowed(measured: list[Measured]) -> None:
    too_long = [
        f"  {function.key}: {function.lines} lines"
        for function in measured
        if function.lines > MAX_LINES and function.key not in ALLOWED
    ]
    assert not too_long, (
        f"functions over {MAX_LINES} lines of code ({figures(measured)}); restructure them, "
        "or add them to ALLOWED with the reason:\n" + "\n".join(too_long)
    )


def test_every_allowed_function_still_exists_and_is_still_too_long(
    measured: list[Measured],
) -> None:
    lines = {function.key: function.lines for function in measured}
    stale = [
        f"  {key}: " + (f"{lines[key]} lines" if key in lines else "no such function")
        for key in ALLOWED
        if lines.get(key, 0) <= MAX_LINES
    ]
    assert not stale, (
        f"ALLOWED names functions within {MAX_LINES} lines or gone ({figures(measured)}); "
        "remove them:\n" + "\n".join(stale)
    )


def test_every_allowance_gives_a_reason() -> None:
    assert all(reason.strip() for reason in ALLOWED.values())
    assert list(ALLOWED) == sorted(ALLOWED)


def test_the_measure_skips_the_docstring_blank_and_comment_lines() -> None:
    source = '''def f():
    """Summary.

    More.
    """
    # a comment
    x = 1

    return (
        x
    )
'''
    [node] = ast.parse(source).body
    assert isinstance(node, ast.FunctionDef)
    assert body_code_lines(source.splitlines(), node) == 4


def test_the_measure_counts_body_code_lines_only() -> None:
    source = '''def f(
    a: int,
) -> int:
    """Docstring,
    over two lines."""

    # a comment
    b = a + 1
    if b:
        return b
    return a
'''
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.FunctionDef)
    assert body_code_lines(source.splitlines(), node) == 4
