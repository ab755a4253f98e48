"""The request-path picture of the docs: drawn by its script, true to the stack, readable.

``docs/_gen/request_path.py`` writes ``docs/assets/request-path.svg``; these tests draw it again
and compare, check its middleware stages against the stack `setup` really builds, and render it
in headless Chromium (light and dark) to a PNG and to a page that measures every text. Without
Chromium the browser tests are skipped, unless ``FASTAPI_PRO_TEST_BROWSER`` names the browser
(as CI does): then they fail.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_pro import Settings, setup
from tests.conftest import run_chromium

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT / "docs" / "_gen" / "request_path.py"
SVG = PROJECT / "docs" / "assets" / "request-path.svg"
NS = {"svg": "http://www.w3.org/2000/svg"}
AGREED_NAMES = (
    "http_server_request_duration_seconds",
    "http_server_active_requests",
    "http_server_request_body_size_bytes",
    "db_client_connections_used",
    "db_client_connection_wait_time_seconds",
    "db_client_connection_timeouts_total",
    "auth_failures_total",
    "health_check_status",
)


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_request_path", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def svg_root() -> ET.Element:
    return ET.fromstring(SVG.read_text(encoding="utf-8"))  # noqa: S314 - our own file


def all_text(root: ET.Element) -> str:
    return " ".join("".join(text.itertext()) for text in root.iter(f"{{{NS['svg']}}}text"))


def test_the_committed_picture_is_what_the_script_draws(script: ModuleType) -> None:
    assert SVG.read_text(encoding="utf-8") == script.render(), (
        "docs/assets/request-path.svg was edited by hand or the script changed: "
        "run python docs/_gen/request_path.py"
    )


def test_the_check_mode_tells_a_stale_file_from_a_current_one(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "request-path.svg"
    stale.write_text("<svg/>", encoding="utf-8")
    monkeypatch.setattr(script, "OUTPUT", stale)

    assert script.main(["--check"]) == 1
    assert script.main([]) == 0
    assert script.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == script.render()


def test_the_picture_has_a_title_and_a_description_for_screen_readers() -> None:
    root = svg_root()

    assert root.get("role") == "img"
    ids = root.get("aria-labelledby", "").split()
    found = {element.get("id"): element for element in root.iter() if element.get("id")}
    assert [found[i].tag.split("}")[1] for i in ids] == ["title", "desc"]
    assert "fastapi-pro" in (found["title"].text or "")
    assert len(found["desc"].text or "") > 200


def test_the_picture_needs_no_script_font_or_network() -> None:
    text = SVG.read_text(encoding="utf-8")

    assert "<script" not in text
    assert "@import" not in text
    assert "url(" not in text
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"]


def test_the_picture_has_a_dark_palette_of_its_own() -> None:
    assert "@media (prefers-color-scheme: dark)" in SVG.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", AGREED_NAMES)
def test_the_picture_names_the_agreed_metric(name: str) -> None:
    assert name in all_text(svg_root())


def test_the_observability_page_shows_the_picture() -> None:
    page = (PROJECT / "docs" / "observability.md").read_text(encoding="utf-8")

    assert "](assets/request-path.svg)" in page


class OwnMiddleware:
    """A middleware of the app's own, added with ``app.add_middleware``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def stack_layers(app: FastAPI) -> Iterator[str]:
    """The class names of the app's ASGI layers, outermost first, down to the router."""
    layer: Any = app.build_middleware_stack()
    seen: set[int] = set()
    while layer is not None and id(layer) not in seen:
        seen.add(id(layer))
        yield type(layer).__name__
        inner = getattr(layer, "app", None)
        layer = inner if not callable(getattr(inner, "__func__", None)) else None


NOT_DRAWN = {
    "ExceptionTelemetryMiddleware": "FastAPI's native telemetry, idle unless configured",
    "RequestBodyLimitMiddleware": "inside AppBodyLimitMiddleware, drawn as the body limit",
    "_BodyLimitExceptionMiddleware": "inside AppBodyLimitMiddleware, drawn as the body limit",
    "AsyncExitStackMiddleware": "FastAPI's closing of uploaded files",
}
"""Layers of the stack the picture leaves out, and why."""


def drawn_layers(script: ModuleType) -> list[str]:
    return [
        "OwnMiddleware" if stage.layer == "app.add_middleware" else stage.layer
        for section in script.SECTIONS
        for stage in section.stages
        if stage.layer
    ]


def test_the_picture_draws_every_layer_setup_stacks_in_its_order(script: ModuleType) -> None:
    app = FastAPI()
    app.add_middleware(OwnMiddleware)
    setup(app, Settings(cors={"allow_origins": ["https://shop.example"]}), database=False)

    built = [name for name in stack_layers(app) if name not in NOT_DRAWN]

    assert built == drawn_layers(script)


def test_the_stack_walker_sees_every_layer() -> None:
    app = FastAPI()
    setup(app, Settings(), database=False)

    layers = list(stack_layers(app))

    assert layers[0] == "ObservabilityMiddleware"
    assert "ExceptionMiddleware" in layers
    assert "CORSMiddleware" not in layers  # no origins configured: no CORS layer


# Headless Chromium: the PNG and the measured texts.


def offline_chromium(chromium: str, *arguments: str) -> str:
    """Headless Chromium that resolves no host: the picture must need no network."""
    return run_chromium(
        chromium, "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", *arguments
    )


def svg_size() -> tuple[int, int]:
    root = svg_root()
    return int(root.get("width", "0")), int(root.get("height", "0"))


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    while offset < len(data):
        (length,), kind = (
            struct.unpack(">I", data[offset : offset + 4]),
            data[offset + 4 : offset + 8],
        )
        body = data[offset + 8 : offset + 8 + length]
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, interlace) == (8, 0)
    channels = {2: 3, 6: 4}[color]
    rows = unfilter(zlib.decompress(chunks[b"IDAT"]), width * channels, channels)
    return width, height, [rgb(row, channels) for row in rows]


def unfilter(raw: bytes, stride: int, bpp: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytearray(stride)
    for start in range(0, len(raw), stride + 1):
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + predict(kind, left, up, corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    guess = left + up - corner
    near = min((abs(guess - left), 0), (abs(guess - up), 1), (abs(guess - corner), 2))[1]
    return (left, up, corner)[near]


def rgb(row: bytes, channels: int) -> bytes:
    return row if channels == 3 else bytes(b for i, b in enumerate(row) if i % 4 != 3)


def ink(rows: list[bytes], background: bytes) -> float:
    """The share of pixels that differ clearly from the background."""
    marked = total = 0
    for row in rows[::4]:
        for x in range(0, len(row), 12):
            total += 1
            marked += sum(abs(row[x + c] - background[c]) for c in range(3)) > 60
    return marked / total


@pytest.mark.parametrize(("scheme", "flags"), [("light", ()), ("dark", ("--force-dark-mode",))])
def test_the_picture_renders_to_a_png_of_its_size(
    chromium: str, tmp_path: Path, scheme: str, flags: tuple[str, ...]
) -> None:
    width, height = svg_size()
    png = tmp_path / f"request-path-{scheme}.png"
    offline_chromium(
        chromium, *flags, f"--screenshot={png}", f"--window-size={width},{height}", SVG.as_uri()
    )

    png_width, png_height, rows = decode_png(png.read_bytes())

    assert (png_width, png_height) == (width, height)
    background = rows[20][60:63]  # inside the picture's own background
    brightness = sum(background) / 3
    assert brightness > 230 if scheme == "light" else brightness < 40
    assert 0.04 < ink(rows, background) < 0.6


MEASURE = """<!doctype html><html><head><style>body { margin: 0 } %(fonts)s</style></head>
<body>%(svg)s<pre id="result"></pre><script>
const box = (element) => element.getBoundingClientRect();
const svg = document.querySelector("svg"), canvas = box(svg), problems = [];
const texts = [...svg.querySelectorAll("text")].map((text) => {
  const frame = text.parentElement.closest("[data-frame]");
  const outer = frame ? box(frame.querySelector("rect")) : canvas, r = box(text);
  const pad = frame ? 3 : 0;
  if (r.left < outer.left + pad || r.right > outer.right - pad || r.top < outer.top
      || r.bottom > outer.bottom) problems.push("outside its box: " + text.textContent);
  return [text.textContent, r];
});
texts.forEach(([a, r], i) => texts.slice(i + 1).forEach(([b, s]) => {
  if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
    problems.push("overlap: " + a + " | " + b);
}));
document.getElementById("result").textContent = JSON.stringify({count: texts.length, problems});
</script></body></html>
"""
WIDE_FONTS = (
    'text { font-family: "DejaVu Sans" !important } .mono { font-family: monospace !important }'
)


@pytest.mark.parametrize("fonts", ["", WIDE_FONTS], ids=["own-fonts", "wide-fallback-fonts"])
def test_no_text_overlaps_another_or_leaves_its_box(
    chromium: str, tmp_path: Path, fonts: str
) -> None:
    page = tmp_path / "measure.html"
    page.write_text(MEASURE % {"fonts": fonts, "svg": SVG.read_text(encoding="utf-8")}, "utf-8")
    width, height = svg_size()

    dom = offline_chromium(
        chromium,
        f"--window-size={width},{height}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    )

    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.DOTALL)
    assert found is not None, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result["count"] > 100
    assert result["problems"] == []
