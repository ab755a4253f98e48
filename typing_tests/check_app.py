"""Static checks of `setup` and what it returns: mypy must accept this file."""

from typing import assert_type

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis

from fastapi_pro import Components, Settings, setup
from fastapi_pro.auth import Auth
from fastapi_pro.db import Database
from fastapi_pro.health import Health
from fastapi_pro.observability import Metrics


def check(app: FastAPI, database: Database) -> None:
    components = setup(app)
    assert_type(components, Components)
    assert_type(components.settings, Settings)
    assert_type(components.database, Database | None)
    assert_type(components.auth, Auth | None)
    assert_type(components.metrics, Metrics | None)
    assert_type(components.tracer_provider, TracerProvider | None)
    assert_type(components.health, Health | None)
    assert_type(components.redis, Redis | None)
    assert_type(Components.of(app), Components)
    assert_type(setup(app, Settings(), database=database, auth=False, health=Health()), Components)
