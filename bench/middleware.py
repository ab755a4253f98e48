"""The observability middleware against bare FastAPI and the stack users assemble today.

Everything runs in one process, interleaved over several rounds, through the ASGI interface.
The full fastapi-pro stack is request id + metrics + tracing (SDK `TracerProvider`, always-on
sampling, a `BatchSpanProcessor` feeding a no-op exporter) + an access log formatted as JSON
into a discarding sink. The anchor stack is prometheus-fastapi-instrumentator +
opentelemetry-instrumentation-fastapi (same tracer set-up) + asgi-correlation-id.

Run: ``uv run --group bench python bench/middleware.py [--rounds 15] [--count 2000]``.
Targets: full stack at most 1.5x bare FastAPI; metrics + request id at most 1.15x.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

sys.path.insert(0, str(Path(__file__).parent))

from _asgi import call, http_scope, interleaved

from fastapi_pro.observability import Metrics, configure_logging, install_observability


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Discard:
    def write(self, text: str) -> int:
        return len(text)


def tracer_provider() -> TracerProvider:
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    return provider


def base_app(**options: Any) -> FastAPI:
    app = FastAPI(**options)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    return app


def pro(**options: Any) -> FastAPI:
    app = base_app()
    defaults: dict[str, Any] = {
        "request_id": False,
        "metrics": None,
        "tracer_provider": None,
        "access_log": False,
        "log_context": False,
    }
    install_observability(app, **{**defaults, **options})
    return app


def anchors() -> FastAPI:
    from asgi_correlation_id import CorrelationIdMiddleware  # noqa: PLC0415 - bench group
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415
    from prometheus_fastapi_instrumentator import Instrumentator  # noqa: PLC0415

    app = base_app()
    Instrumentator().instrument(app)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider())
    app.add_middleware(CorrelationIdMiddleware)
    return app


def with_setup(**options: Any) -> FastAPI:
    """What ``setup(app)`` installs by default, with tracing, the database and auth left out:
    error handlers, the middleware (request id, metrics, access log, log context) and the
    security headers. ``options`` go to `setup` (``tracing=provider``, say)."""
    from fastapi_pro import Settings, setup  # noqa: PLC0415

    app = base_app()
    settings = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    setup(app, settings, database=False, auth=False, logging=False, health=False, **options)
    return app


def headers_only() -> FastAPI:
    from fastapi_pro.security_headers import install_security_headers  # noqa: PLC0415

    app = base_app()
    install_security_headers(app)
    return app


def full_stack() -> FastAPI:
    return pro(
        request_id=True,
        metrics=Metrics(),
        tracer_provider=tracer_provider(),
        access_log=True,
        log_context=True,
    )


def cases() -> dict[str, FastAPI]:
    return {
        "bare FastAPI": base_app(),
        "fastapi-pro full stack": full_stack(),
        "setup() defaults (no tracing)": with_setup(),
        "security headers only": headers_only(),
        "fastapi-pro metrics + request id": pro(request_id=True, metrics=Metrics()),
        "fastapi-pro request id only": pro(request_id=True),
        "fastapi-pro metrics only": pro(metrics=Metrics()),
        "fastapi-pro tracing only": pro(tracer_provider=tracer_provider()),
        "fastapi-pro access log only": pro(access_log=True),
        "fastapi-pro log context only": pro(request_id=True, log_context=True),
        "anchor stack (instrumentator + OTel + correlation-id)": anchors(),
    }


async def main(rounds: int, count: int) -> None:
    configure_logging(json_lines=True, sink=Discard(), intercept_stdlib=False)  # type: ignore[arg-type]
    scope = http_scope("/items/42")
    apps = cases()
    for app in apps.values():
        status, body = await call(app, scope)
        assert status == 200, body
    medians = await interleaved({name: (app, scope) for name, app in apps.items()}, rounds, count)
    bare = medians["bare FastAPI"]
    print(f"\n{'case':58} {'µs/request':>11} {'vs bare':>8}")
    for name, seconds in medians.items():
        print(f"{name:58} {seconds * 1e6:11.1f} {seconds / bare:7.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--count", type=int, default=2000)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.count))
