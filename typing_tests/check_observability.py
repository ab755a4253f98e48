"""Static checks of the observability block: mypy must accept this file."""

from contextlib import AbstractContextManager
from typing import assert_type

from fastapi import FastAPI, Request
from opentelemetry.trace import TracerProvider

from fastapi_pro.observability import (
    GLOBAL,
    Metrics,
    access_log_through_loguru,
    install_observability,
    tracer_provider_of,
)


def check(app: FastAPI, request: Request, metrics: Metrics) -> None:
    install_observability(app, metrics=metrics, tracer_provider=GLOBAL, skip_paths=["/up"])
    install_observability(app, acces_log=False)  # type: ignore[call-arg]
    install_observability(app, metrics="yes")  # type: ignore[arg-type]
    assert_type(Metrics.of(app), Metrics)
    assert_type(Metrics.of(request), Metrics)
    assert_type(tracer_provider_of(app), TracerProvider)
    routed: AbstractContextManager[None] = access_log_through_loguru()
    print(routed)  # noqa: T201 - only mypy reads this file
