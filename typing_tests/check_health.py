"""Static checks of the health block's protocols: mypy must accept this file."""

from typing import assert_type

from fastapi_pro.db import Database
from fastapi_pro.health import Check, SupportsPing, database_check


def check(database: Database) -> None:
    store: SupportsPing = database  # a Database is what database_check probes
    assert_type(database_check(database), Check)
    assert_type(database_check(store), Check)
