"""The observability middleware against bare FastAPI and the stack users assemble today.

Everything runs in one process, interleaved over several rounds, through the ASGI interface.
The full fastapi-pro stack is request id + metrics + tracing (SDK `TracerProvider`, always-on
sampling, a `BatchSpanProcessor` feeding a no-op exporter) + an access log formatted as JSON
into a discarding sink. The anchor stack is prometheus-fastapi-instrumentator +
opentelemetry-instrumentation-fastapi (same tracer set-up) + asgi-correlation-id.

FastAPI's own telemetry is measured beside it, with the same tracer set-up given as
``FastAPI(telemetry={"tracer_provider": ...})``: its default (a server span and three operation
spans), its server span alone, and OTel contrib's server span alone.

Run: ``uv run --group bench python bench/middleware.py [--rounds 15] [--count 2000]``.
Targets (ratios to bare FastAPI): request id + metrics at most 1.15x; everything but tracing
at most 1.25x; the full stack with one span per request at most 1.8x; ``setup()`` defaults at
most 1.3x.
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


def with_setup(tracing: bool = False, operation_spans: bool = False) -> FastAPI:
    """What ``setup(app)`` installs by default, with the database and auth left out: error
    handlers, the middleware (request id, metrics, access log, log context), the body limit and
    the security headers; with ``tracing``, one span per request in the bench's provider."""
    from fastapi_pro import Settings, setup  # noqa: PLC0415

    app = base_app()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        observability={"operation_spans": operation_spans},  # type: ignore[arg-type]
    )
    provider = tracer_provider() if tracing else False
    setup(app, settings, database=False, auth=False, logging=False, health=False, tracing=provider)
    return app


def native(**telemetry: Any) -> FastAPI:
    """FastAPI's own telemetry, tracing into the bench's provider."""
    return base_app(telemetry={"tracer_provider": tracer_provider(), **telemetry})


def contrib_only() -> FastAPI:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

    app = base_app(telemetry={"tracing": False})  # contrib's span alone
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider())
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
        "setup() defaults + one span per request": with_setup(tracing=True),
        "setup() + FastAPI's operation spans": with_setup(tracing=True, operation_spans=True),
        "fastapi-pro everything but tracing": pro(
            request_id=True, metrics=Metrics(), access_log=True, log_context=True
        ),
        "FastAPI native telemetry (4 spans)": native(),
        "FastAPI native server span only": native(operation_spans=False),
        "OTel contrib server span only": contrib_only(),
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
