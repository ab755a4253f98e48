"""Read the guides' markdown as a reader does: code blocks, file names, commands, outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
FILE_NAME = re.compile(r"`(\w[\w./-]*\.\w+)`")


@dataclass(frozen=True)
class Block:
    """A fenced code block, its snippet includes resolved, and the paragraph before it."""

    lang: str
    text: str
    intro: str

    @property
    def file_name(self) -> str | None:
        """The file the page tells the reader to write this block to.

        That is the last file name in backquotes of the paragraph before the block, when that
        paragraph ends with a colon: ``Save this as `main.py`:``.
        """
        names = FILE_NAME.findall(self.intro)
        return names[-1] if names and self.intro.endswith(":") else None


def code_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order, with ``--8<--`` includes replaced by the file."""
    text = page.read_text()
    blocks, previous_end = [], 0
    for match in FENCE.finditer(text):
        paragraphs = text[previous_end : match.start()].strip().split("\n\n")
        body = INCLUDE.sub(lambda m: (ROOT / m.group(1)).read_text().rstrip("\n"), match.group(2))
        blocks.append(Block(match.group(1), body, paragraphs[-1].strip()))
        previous_end = match.end()
    return blocks


def pattern(documented: str) -> re.Pattern[str]:
    """A regex for output as a page shows it: ``"abc..."`` is any string, ``abc...`` anything.

    Values that differ on every run (ids, tokens, times) are shown cut short with ``...``.
    """
    flat = re.sub(r"\n\s*", "", documented.strip())
    parts = re.split(r'("[^"]*\.\.\."|\w*\.\.\.)', flat)
    return re.compile("".join(_part_pattern(part) for part in parts), re.DOTALL)


def _part_pattern(part: str) -> str:
    if part.endswith("...") and not part.startswith('"'):
        return ".*"
    if part.startswith('"') and part.endswith('..."'):
        return '"[^"]*"'
    return re.escape(part)


def assert_shown(documented: str, body: str) -> None:
    """Fail unless ``body`` is the output the page documents (volatile values elided)."""
    assert pattern(documented).fullmatch(body), f"page shows {documented!r}, got {body!r}"


def json_body(response: httpx.Response) -> str:
    """The response's JSON body in the compact form the pages show."""
    return json.dumps(response.json(), separators=(",", ":"), ensure_ascii=False)


@contextmanager
def serving(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> Iterator[str]:
    """Run a server command on a free loopback port until it answers; yield its base URL."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a --reload watcher and its worker
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log)
        yield base
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's process group (the one this module started), by force if it hangs."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited:\n{log.read_text()}")
        try:
            httpx.get(f"{base}/health/live", timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise AssertionError(f"the server did not answer within 60 s:\n{log.read_text()}")
