"""Draw docs/assets/request-path.svg: a request's path through fastapi-pro's blocks.

The picture follows the order in code: `fastapi_pro.setup` wraps the app's whole stack in the
observability middleware, then the security headers, then CORS, then the rate-limit headers
(`_install_middleware`); inside
them runs Starlette's and FastAPI's own stack. Each stage carries what it records and the
dashboard panel that shows it.

Run ``python docs/_gen/request_path.py`` after changing what is below; the docs tests draw it
again and fail when the committed file differs, so the SVG is never edited by hand. Standard
library only; the SVG needs no script and no web font, and has a dark palette of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "request-path.svg"

WIDTH = 920
LANE_X = 16  # the response's way back
SECTION_X = 64  # the sections' brackets
LEFT_X, LEFT_W = 80, 360  # the stages
RIGHT_X, RIGHT_W = 460, 444  # what each stage records
LINE = 17
GAP = 18
PAD = 12
CHIP_W = 54


@dataclass(frozen=True)
class Note:
    """One line beside a stage; ``kind`` names its chip, ``""`` continues the line above."""

    kind: str
    text: str


@dataclass(frozen=True)
class Stage:
    """One layer or step of the request path, with what it records."""

    title: str
    code: str
    lines: tuple[str, ...]
    notes: tuple[Note, ...] = ()
    dashed: bool = False
    layer: str = ""
    """The ASGI class of a middleware stage, in the order the app's stack nests them."""


@dataclass(frozen=True)
class Section:
    """Consecutive stages that belong together (the bracket on the left)."""

    label: str
    accent: str
    stages: tuple[Stage, ...]


def _n(kind: str, text: str) -> Note:
    return Note(kind, text)


def _panel(row: str, panels: str) -> Note:
    """The dashboard row and the panels of it that show what the stage records."""
    return Note("panel", f"{row} \u203a {panels}")


DURATION = "http_server_request_duration_seconds"
TRACE_CAPTION = (
    "The server span, the duration histogram and the access line",
    "end at one instant: the last body byte is sent. Its buckets carry",
    "the trace id as an exemplar (OpenMetrics, one process).",
    "FastAPI's own operation spans (dependencies, endpoint) are",
    "opt-in: off by default.",
)

SECTIONS = (
    Section(
        "fastapi-pro middleware",
        "mw",
        (
            Stage(
                "Observability middleware",
                "install_observability · one pure-ASGI pass",
                (
                    "request id: a valid `X-Request-ID` kept, else made",
                    "log context: `request_id`, `trace_id`, `span_id`",
                    "opens the server span (continues a `traceparent`)",
                    "counts the request in flight, times it to the last",
                    "body byte, writes one access line",
                    "`/metrics` and `/health/*`: a request id, nothing else",
                ),
                (
                    _n("metric", "`http_server_active_requests{http_request_method}`"),
                    _panel("Traffic", "Requests in flight"),
                    _n("metric", f"`{DURATION}`"),
                    _n("", "`{http_request_method, http_route,`"),
                    _n("", "`http_response_status_code}`"),
                    _panel("Traffic", "Request rate, Responses by status class"),
                    _panel("Latency", "p50, p95, p99 by route"),
                    _panel("Errors", "5xx ratio, 5xx ratio by route"),
                    _n("metric", "`http_server_request_body_size_bytes`, `…response…`"),
                    _n("span", "one SERVER span: `GET /orders/{order_id}`"),
                    _n("log", "one line: method, route, status, duration_ms"),
                ),
                layer="ObservabilityMiddleware",
            ),
            Stage(
                "Security headers",
                "install_security_headers",
                ("on every response, unhandled 500s included",),
                (
                    _n("header", "`Content-Security-Policy`, `X-Frame-Options`,"),
                    _n("", "`Referrer-Policy`, `X-Content-Type-Options`, HSTS"),
                ),
                layer="SecurityHeadersMiddleware",
            ),
            Stage(
                "CORS",
                "Starlette's CORSMiddleware, if cors.allow_origins",
                ("answers preflights here; exposes `X-Request-ID`",),
                (_n("header", "`Access-Control-Allow-Origin`, `…-Expose-Headers`"),),
                layer="CORSMiddleware",
            ),
            Stage(
                "Rate-limit headers",
                "RateLimiter.install · RateLimitHeadersMiddleware",
                ("the counts a `RateLimit` left in the request's scope,", "on every response"),
                (_n("header", "`RateLimit-Policy`, `RateLimit`"),),
                layer="RateLimitHeadersMiddleware",
            ),
            Stage(
                "Body problems",
                "install_error_handlers · BodyProblems",
                ("bodies that cannot be read, in the problem shape",),
                (
                    _n("error", "413: Starlette's plain-text one, as a problem"),
                    _n("error", "400 `malformed_body`: JSON that is not UTF-8"),
                ),
                layer="BodyProblems",
            ),
        ),
    ),
    Section(
        "Starlette and FastAPI",
        "st",
        (
            Stage(
                "Server error middleware",
                "Starlette's ServerErrorMiddleware",
                ("an unhandled exception becomes a 500 problem,", "recorded on the server span"),
                (
                    _n("error", "500 `application/problem+json`, no exception text"),
                    _n("span", "status ERROR, the exception as an event"),
                    _panel("Errors", "5xx ratio"),
                ),
                layer="ServerErrorMiddleware",
            ),
            Stage(
                "Body limit",
                "FastAPI's max_body_size (settings.max_body_size)",
                ("a larger body is refused as it is read",),
                (_n("error", "413 problem"),),
                layer="AppBodyLimitMiddleware",
            ),
            Stage(
                "Your own middleware",
                "app.add_middleware(...)",
                ("runs here, inside the error handling",),
                dashed=True,
                layer="app.add_middleware",
            ),
            Stage(
                "Exception handlers",
                "install_error_handlers · ExceptionMiddleware",
                (
                    "render `AppError`, `HTTPException` and validation",
                    "errors raised below as problems",
                ),
                (
                    _n("error", "4xx / 503 `application/problem+json`, with the"),
                    _n("", "request id; 503 carries `Retry-After`"),
                ),
                layer="ExceptionMiddleware",
            ),
            Stage(
                "Router",
                "the route is matched",
                ("its full template (prefixes, mounts included)", "is read when the request ends"),
                (
                    _n("metric", 'label `http_route="/orders/{order_id}"`'),
                    _n("span", "named `GET /orders/{order_id}`, never the raw path"),
                    _n("", "no route matched: one label, `<unmatched>`"),
                ),
                layer="APIRouter",
            ),
        ),
    ),
    Section(
        "Dependencies",
        "dep",
        (
            Stage(
                "Rate limit",
                'Depends(RateLimit("10/second", "500/hour"))',
                (
                    "counts the caller on the route template: a token's",
                    "subject, an API key, else the client's address",
                ),
                (
                    _n("error", "429 problem, `Retry-After`; 503 if failing closed"),
                    _n("metric", "`ratelimit_refusals_total{http_route, policy}`"),
                ),
            ),
            Stage(
                "Auth",
                "CurrentPrincipal · CurrentUser[User]",
                (
                    "verifies the bearer token: a `Principal`",
                    "the user loader reads the user in the request's",
                    "own session: one connection per request",
                ),
                (
                    _n("error", "401 / 403 problem"),
                    _n("metric", "`auth_failures_total{reason}`, reason = the"),
                    _n("", "problem code: `invalid_token`, `insufficient_scope` …"),
                    _panel("Auth, health and targets", "Auth failures by reason"),
                ),
            ),
            Stage(
                "Session and repository",
                "SessionDep · Depends(OrderRepository.for_request)",
                (
                    "one `AsyncSession` per request, shared with the",
                    "user loader; the repository is built on it",
                    "no connection yet: that waits for a statement",
                ),
            ),
        ),
    ),
    Section(
        "Data",
        "data",
        (
            Stage(
                "Pool checkout",
                "Database · at the session's first statement",
                ("one connection for the whole request; waits", "at most `pool_timeout`"),
                (
                    _n("metric", "`db_client_connection_wait_time_seconds{pool_name}`"),
                    _panel("Database pool", "Pool checkout wait p95 / p99"),
                    _n("metric", "`db_client_connection_timeouts_total{pool_name}`"),
                    _n("error", "timed out: 503 problem, `Retry-After`"),
                    _panel("Database pool", "Pool checkout timeouts"),
                    _n("metric", "`db_client_connections_used`, `_idle`, `_max`,"),
                    _n("", "`_overflow` (read at scrape time)"),
                    _panel("Database pool", "Pool connections, Pool usage"),
                ),
            ),
            Stage(
                "Repository",
                "class OrderRepository(Repository[Order])",
                ("at most one statement per call on the success", "path; errors read by SQLSTATE"),
                (
                    _n("span", "a CLIENT span per statement (`SELECT`, …),"),
                    _n("", "child of the server span; placeholders, no values"),
                    _n("error", "409 conflict, 422 invalid value, 503"),
                ),
            ),
        ),
    ),
    Section(
        "Response",
        "out",
        (
            Stage(
                "Endpoint returns",
                'SessionDep: Depends(..., scope="function")',
                ("commits before the response is sent; the", "connection goes back to the pool"),
                (_n("error", "a failed commit: 409 / 503 problem, never a 2xx"),),
            ),
            Stage(
                "Response",
                "JSON, or application/problem+json on errors",
                ("goes back out through every layer above,", "each adding its headers"),
                (
                    _n("log", "at the last body byte: the duration observed,"),
                    _n("", "the span ended, the access line written"),
                ),
            ),
        ),
    ),
)

BESIDE = (
    _n("", "`/health/ready` runs the checks: a database ping"),
    _n("", "on a pool of its own, Redis when configured"),
    _n("metric", "`health_check_status{check}`: 1 passing, 0 failing"),
    _panel("Auth, health and targets", "Health checks"),
    _n("", "`/metrics` is scraped: the pool gauges are read then"),
)

CSS = """
svg { --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #8c959f; --box: #ffffff;
  --edge: #d0d7de; --panel: #f6f8fa;
  --mw: #0969da; --st: #8250df; --dep: #9a6700; --data: #1a7f37; --out: #bc4c00;
  --metric-bg: #ddf4ff; --metric: #0550ae; --span-bg: #fbefff; --span: #6639ba;
  --log-bg: #eaeef2; --log: #424a53; --panel-bg: #dafbe1; --panel-fg: #116329;
  --error-bg: #ffebe9; --error: #a40e26; --header-bg: #fff8c5; --header: #7d4e00; }
@media (prefers-color-scheme: dark) {
  svg { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #6e7681; --box: #161b22;
    --edge: #3d444d; --panel: #151b23;
    --mw: #4493f8; --st: #ab7df8; --dep: #d29922; --data: #3fb950; --out: #f0883e;
    --metric-bg: #0c2d6b; --metric: #a5d6ff; --span-bg: #2e1a4f; --span: #d2a8ff;
    --log-bg: #262c36; --log: #d1d9e0; --panel-bg: #0f3d1e; --panel-fg: #7ee787;
    --error-bg: #4c1416; --error: #ffa198; --header-bg: #3b2e00; --header: #e3b341; }
}
text { font-family: "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
  font-size: 13px; fill: var(--fg); }
.mono { font-family: "SFMono-Regular", Menlo, Consolas, "Liberation Mono",
  "DejaVu Sans Mono", monospace; font-size: 12px; }
.bg { fill: var(--bg); stroke: var(--edge); }
.box { fill: var(--box); stroke: var(--edge); }
.dashed { stroke-dasharray: 5 4; }
.card { fill: var(--panel); stroke: var(--edge); }
.h1 { font-size: 18px; font-weight: 700; }
.h2 { font-size: 14.5px; font-weight: 700; }
.sub { fill: var(--muted); }
.code { fill: var(--muted); font-size: 11.5px; }
.section { font-size: 11px; font-weight: 700; letter-spacing: 0.06em; }
.wire { fill: none; stroke: var(--line); stroke-width: 1.5; }
.head { fill: var(--line); }
.chip-text { font-size: 9.5px; font-weight: 700; letter-spacing: 0.05em; }
.bar-server { fill: var(--mw); }
.bar-client { fill: var(--data); }
.bar-text { fill: var(--bg); font-size: 11px; font-weight: 700; }
"""


def _chip_css() -> str:
    kinds = ("metric", "span", "log", "error", "header")
    rules = [
        f".chip-{k} rect {{ fill: var(--{k}-bg); }} .chip-{k} text {{ fill: var(--{k}); }}"
        for k in kinds
    ]
    rules.append(
        ".chip-panel rect { fill: var(--panel-bg); } .chip-panel text { fill: var(--panel-fg); }"
    )
    accents = ("mw", "st", "dep", "data", "out")
    rules += [f".accent-{a} {{ fill: var(--{a}); stroke: none; }}" for a in accents]
    rules += [f".line-{a} {{ fill: none; stroke: var(--{a}); stroke-width: 2; }}" for a in accents]
    rules += [f".label-{a} {{ fill: var(--{a}); }}" for a in accents]
    return "\n".join(rules) + "\n"


def _rich(text: str) -> str:
    """Escape ``text``; parts between backticks are set in the monospace font."""
    parts = text.split("`")
    return "".join(
        f'<tspan class="mono">{escape(part)}</tspan>' if odd % 2 else escape(part)
        for odd, part in enumerate(parts)
        if part
    )


def _text(x: float, y: float, text: str, cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:g}" y="{y:g}"{klass}{extra}>{_rich(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, *, cls: str, rx: float = 6) -> str:
    return f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx:g}" class="{cls}"/>'


def _arrow_down(x: float, y1: float, y2: float) -> str:
    head = f"{x - 5:g},{y2 - 7:g} {x + 5:g},{y2 - 7:g} {x:g},{y2:g}"
    line = f'<path class="wire" d="M{x:g} {y1:g}V{y2 - 6:g}"/>'
    return f'{line}<polygon class="head" points="{head}"/>'


def _left_height(stage: Stage) -> int:
    return 2 * PAD + 16 + LINE * (1 + len(stage.lines))


def _notes_height(notes: Sequence[Note]) -> int:
    return 2 * PAD + 14 + LINE * (len(notes) - 1) if notes else 0


def _row_height(stage: Stage) -> int:
    return max(_left_height(stage), _notes_height(stage.notes))


def _stage(stage: Stage, accent: str, top: int, height: int) -> Iterator[str]:
    x = LEFT_X + PAD + 4
    y = top + PAD + 13
    yield '<g data-frame="stage">'
    yield _rect(LEFT_X, top, LEFT_W, height, cls="box dashed" if stage.dashed else "box")
    yield _rect(LEFT_X, top, 5, height, cls=f"accent-{accent}", rx=2)
    yield _text(x, y, stage.title, "h2")
    yield _text(x, y + LINE, stage.code, "mono code")
    for number, line in enumerate(stage.lines, start=2):
        yield _text(x, y + LINE * number, line)
    yield "</g>"


def _chip(kind: str, x: float, baseline: float) -> str:
    rect = _rect(x, baseline - 11, CHIP_W, 15, cls="", rx=3)
    label = _text(
        x + CHIP_W / 2, baseline - 0.5, kind.upper(), "chip-text", ' text-anchor="middle"'
    )
    return f'<g data-frame="chip" class="chip-{kind}">{rect}{label}</g>'


def _note_lines(notes: Sequence[Note], x: float, top: float) -> Iterator[str]:
    for number, note in enumerate(notes):
        baseline = top + PAD + 12 + LINE * number
        if note.kind:
            yield _chip(note.kind, x, baseline)
        yield _text(x + CHIP_W + 8, baseline, note.text)


def _notes(notes: Sequence[Note], top: int, height: int) -> Iterator[str]:
    if not notes:
        return
    yield '<g data-frame="notes">'
    yield _rect(RIGHT_X, top, RIGHT_W, height, cls="card")
    yield from _note_lines(notes, RIGHT_X + PAD, top)
    yield "</g>"
    y = top + PAD + 8
    yield f'<path class="wire" stroke-dasharray="2 3" d="M{LEFT_X + LEFT_W} {y}H{RIGHT_X}"/>'


def _bracket(section: Section, top: int, bottom: int) -> Iterator[str]:
    x, tick = SECTION_X, SECTION_X + 8
    yield f'<path class="line-{section.accent}" d="M{tick} {top}H{x}V{bottom}H{tick}"/>'
    middle = (top + bottom) / 2
    rotate = f' text-anchor="middle" transform="rotate(-90 {x - 6} {middle:g})"'
    yield _text(x - 6, middle, section.label.upper(), f"section label-{section.accent}", rotate)


def _sections(top: int) -> tuple[list[str], int, int]:
    """The stages, their notes and brackets; also where the last one ends and its middle."""
    parts: list[str] = []
    y = top
    for section in SECTIONS:
        start = y
        for stage in section.stages:
            if y != top:
                parts.append(_arrow_down(LEFT_X + LEFT_W / 2, y - GAP, y))
            height = _row_height(stage)
            parts += [*_stage(stage, section.accent, y, height), *_notes(stage.notes, y, height)]
            y += height + GAP
        parts += _bracket(section, start, y - GAP)
    return parts, y - GAP, y - GAP - PAD - 2


HEADING = (
    "Outermost layer first, in the order fastapi_pro.setup() stacks them. Beside each",
    "stage: what it records, and the dashboard panel (row \u203a panel) that shows it.",
)
CLIENT_TOP, CLIENT_H = 92, 34
FIRST_ROW = CLIENT_TOP + CLIENT_H + GAP + 4


def _heading() -> Iterator[str]:
    yield _text(LANE_X + 8, 36, "A request's path through fastapi-pro", "h1")
    for number, line in enumerate(HEADING):
        yield _text(LANE_X + 8, 60 + LINE * number, line, "sub")
    yield '<g data-frame="client">'
    yield _rect(LEFT_X, CLIENT_TOP, LEFT_W, CLIENT_H, cls="box", rx=17)
    client = "Client: `GET /orders/42`, `Authorization: Bearer …`"
    yield _text(LEFT_X + PAD + 4, CLIENT_TOP + 22, client)
    yield "</g>"
    yield _arrow_down(LEFT_X + LEFT_W / 2, CLIENT_TOP + CLIENT_H, FIRST_ROW)


def _way_back(leave: int) -> Iterator[str]:
    """The response's arrow: from the last stage, up the left lane, back to the client."""
    arrive = CLIENT_TOP + CLIENT_H / 2
    yield f'<path class="wire" d="M{LEFT_X} {leave}H{LANE_X}V{arrive:g}H{LEFT_X - 6}"/>'
    head = f"{LEFT_X - 7},{arrive - 5:g} {LEFT_X - 7},{arrive + 5:g} {LEFT_X},{arrive:g}"
    yield f'<polygon class="head" points="{head}"/>'
    middle = (leave + arrive) / 2
    label = "the response, back out through every layer above"
    rotate = f' text-anchor="middle" transform="rotate(-90 {LANE_X + 14} {middle:g})"'
    yield _text(LANE_X + 14, middle, label.upper(), "section sub", rotate)


BOTTOM_W = (WIDTH - 3 * LANE_X) // 2
TRACE_ROWS = (
    ("SERVER · GET /orders/{order_id}", 0.0, 1.0),
    ("CLIENT · SELECT", 0.14, 0.44),
    ("CLIENT · UPDATE", 0.5, 0.8),
)


def _trace(top: int, height: int) -> Iterator[str]:
    x, inner = LANE_X, BOTTOM_W - 2 * PAD
    yield '<g data-frame="trace">'
    yield _rect(x, top, BOTTOM_W, height, cls="card")
    yield _text(x + PAD, top + PAD + 13, "One trace per request", "h2")
    for number, (name, start, end) in enumerate(TRACE_ROWS):
        bar_x, bar_top = x + PAD + start * inner, top + 36 + 22 * number
        kind = "bar-server" if number == 0 else "bar-client"
        yield '<g data-frame="bar">'
        yield _rect(bar_x, bar_top, (end - start) * inner, 17, cls=kind, rx=3)
        yield _text(bar_x + 6, bar_top + 12.5, name, "bar-text")
        yield "</g>"
    caption_top = top + 36 + 22 * len(TRACE_ROWS) + 4
    for number, line in enumerate(TRACE_CAPTION):
        yield _text(x + PAD, caption_top + 12 + LINE * number, line)
    yield "</g>"


def _beside(top: int, height: int) -> Iterator[str]:
    x = LANE_X * 2 + BOTTOM_W
    yield '<g data-frame="beside">'
    yield _rect(x, top, BOTTOM_W, height, cls="card")
    yield _text(x + PAD, top + PAD + 13, "Beside the request path", "h2")
    yield from _note_lines(BESIDE, x + PAD, top + 26)
    yield "</g>"


def _bottom_height() -> int:
    trace = 36 + 22 * len(TRACE_ROWS) + 4 + LINE * len(TRACE_CAPTION) + PAD
    beside = 26 + _notes_height(BESIDE)
    return max(trace, beside)


TITLE = "A request's path through fastapi-pro, and what each stage records"
DESCRIPTION = (
    "A request passes, outermost first: the observability middleware (request id, log "
    "context, the server span, the in-flight gauge, the duration histogram and the access "
    "line), the security headers, CORS, the rate-limit headers, the layer that answers "
    "unreadable bodies as problems, "
    "Starlette's server error middleware, FastAPI's body limit, the app's own middleware, the "
    "exception handlers that render problems, and the router. Then the dependencies: the rate "
    "limit (429 problems, counted in ratelimit_refusals_total), auth "
    "(CurrentUser; refusals count in auth_failures_total) "
    "and SessionDep with the repository built by for_request. At the first statement the "
    "session checks a connection out of the pool (db_client_connection_wait_time_seconds, "
    "timeouts as 503 problems, the db_client_connections gauges), and the repository's SQL "
    "runs as client spans under the server span. The session commits before the response, "
    "which goes back out through every layer; errors are application/problem+json. Health "
    "probes set health_check_status."
)


def render() -> str:
    """The SVG document, the same text for the same code."""
    body, last_bottom, leave = _sections(FIRST_ROW)
    bottom_top = last_bottom + 28
    bottom_h = _bottom_height()
    height = bottom_top + bottom_h + LANE_X
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title desc">',
        f'<title id="title">{escape(TITLE)}</title>',
        f'<desc id="desc">{escape(DESCRIPTION)}</desc>',
        f"<style>{CSS}{_chip_css()}</style>",
        _rect(0.5, 0.5, WIDTH - 1, height - 1, cls="bg", rx=10),
        *_heading(),
        *body,
        *_way_back(leave),
        *_trace(bottom_top, bottom_h),
        *_beside(bottom_top, bottom_h),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str]) -> int:
    """Write the SVG; with ``--check``, only report whether the committed one is current."""
    text = render()
    if "--check" in argv:
        current = OUTPUT.is_file() and OUTPUT.read_text(encoding="utf-8") == text
        sys.stderr.write("" if current else f"{OUTPUT} is stale: run {__file__}\n")
        return 0 if current else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
