"""The observability stacks under load over real HTTP, against bare FastAPI.

Run: ``uv run --group bench python bench/middleware_load.py [--rounds 3] [--duration 10]
[--warmup 3]``. Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``; macOS:
``brew install wrk``). Best on an idle machine with two CPUs or more.

Targets: ``setup()`` defaults serve at least 0.85x the requests per second of bare FastAPI; the
full fastapi-pro stack at least 0.65x.

Every variant answers `middleware.py`'s trivial ``GET /items/{item_id}`` with the same body
(checked before the load) and is built by that script's app factories:

- bare FastAPI;
- ``setup(app, Settings())`` defaults without database, auth and health (`with_setup`);
- the fastapi-pro full stack (`full_stack`): request id, metrics, one span per request (SDK
  ``TracerProvider``, always-on sampling, ``BatchSpanProcessor`` into a no-op exporter), the JSON
  access log and the log context;
- ``setup()`` defaults with tracing on that tracer provider;
- FastAPI's native telemetry given that tracer provider (four spans per request), for scale;
- the anchor stack (prometheus-fastapi-instrumentator + opentelemetry-instrumentation-fastapi +
  asgi-correlation-id), for scale.

Each is served by a real uvicorn process (one worker, uvloop and httptools, on a free loopback
port, pinned to ``--server-cpu``) and loaded by ``wrk`` (one thread, 32 connections, pinned to
``--client-cpu``): a warm-up of ``--warmup`` seconds, then ``--duration`` seconds measured.
Rounds are interleaved, the order rotating, and each figure is the median over rounds: requests
per second, and the 99th percentile latency wrk reports. Responses other than 2xx/3xx and
socket errors are summed over every measured run; they must be 0.

Every server process configures logging as production does (JSON lines, an access line per
request from fastapi-pro's middleware) into its standard error, which is ``/dev/null``;
uvicorn's own access log is off.
"""

from __future__ import annotations

import argparse
import os

import _http
from _http import Headers, Load, Result, Variant
from fastapi import FastAPI
from middleware import anchors, base_app, full_stack, native, with_setup

from fastapi_pro.observability import configure_logging

PATH = "/items/42"
EXPECTED = {"id": 42, "name": "widget"}


def setup_tracing() -> FastAPI:
    return with_setup(tracing=True)


VARIANTS = (
    Variant("bare", "bare FastAPI", base_app),
    Variant("setup", "setup() defaults (no tracing)", with_setup),
    Variant("full", "fastapi-pro full stack", full_stack),
    Variant("setup+tracing", "setup() defaults + tracing", setup_tracing),
    Variant("native", "FastAPI native telemetry (4 spans/request)", native),
    Variant("anchors", "anchor stack (instrumentator + OTel + correlation-id)", anchors),
)
BY_KEY = {variant.key: variant for variant in VARIANTS}
TARGETS = {"setup": 0.85, "full": 0.65}  # least share of bare FastAPI's requests per second


def serve_variant(key: str, port: int, cpu: int) -> None:
    """The server process of variant ``key``; its standard error is ``/dev/null``."""
    configure_logging(json_lines=True, intercept_stdlib=False)
    _http.serve(BY_KEY[key].factory, port, cpu)


def no_headers(variant: Variant) -> Headers:
    return {}


def print_table(results: dict[str, Result], options: Load) -> None:
    bare = results["bare"].rate
    print(f"\n{_http.describe(options)}\n")
    _http.table(
        ["Variant", "req/s", "vs bare", "p99 ms", "non-2xx"],
        ([BY_KEY[key].label, *_http.figures(result, bare)] for key, result in results.items()),
    )
    print()
    for key, target in TARGETS.items():
        ratio = results[key].rate / bare
        verdict = "met" if ratio >= target else "missed"
        print(f"Target {BY_KEY[key].label} >= {target}x bare: {verdict} ({ratio:.2f}x).")
    errors = sum(result.errors for result in results.values())
    print(f"Errors: {errors} (must be 0).")


def main(options: Load) -> None:
    _http.require_wrk()
    results = {variant.key: Result() for variant in VARIANTS}
    env = dict(os.environ)
    with _http.servers(__file__, VARIANTS, PATH, env, options.server_cpu) as started:
        _http.ready(started, no_headers, EXPECTED)
        _http.rounds(started, no_headers, options, results)
    print_table(results, options)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _http.add_arguments(parser)
    arguments = parser.parse_args()
    if arguments.serve:
        serve_variant(arguments.serve, arguments.port, arguments.server_cpu)
    else:
        main(Load(**_http.load_options(arguments)))
