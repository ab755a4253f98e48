from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from fastapi_pro.db import (
    Database,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    IntegrityViolationError,
    InvalidValueError,
    StaleVersionError,
    TransactionConflictError,
    UniqueViolationError,
    translate_error,
)
from tests.db.models import Category, CategoryRepository


class FakePostgresError(Exception):
    def __init__(self, sqlstate: str, **attributes: str) -> None:
        super().__init__("message text that must not matter")
        self.sqlstate = sqlstate
        for name, value in attributes.items():
            setattr(self, name, value)


def sqlite_error(code: int, message: str = "") -> DBAPIError:
    orig = sqlite3.IntegrityError(message)
    orig.sqlite_errorcode = code  # type: ignore[attr-defined]
    return IntegrityError("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("23505", UniqueViolationError),
        ("23503", ForeignKeyViolationError),
        ("23502", IntegrityViolationError),
        ("23514", IntegrityViolationError),
        ("40001", TransactionConflictError),
        ("40P01", TransactionConflictError),
        ("08006", DatabaseUnavailableError),
        ("57P01", DatabaseUnavailableError),
        ("53300", DatabaseUnavailableError),
        ("22003", InvalidValueError),
        ("22001", InvalidValueError),
        ("22000", InvalidValueError),
        ("22P02", InvalidValueError),
    ],
)
def test_postgres_errors_are_classified_by_sqlstate(sqlstate: str, expected: type) -> None:
    error = DBAPIError("SELECT 1", {}, FakePostgresError(sqlstate))

    assert type(translate_error(error)) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (2067, UniqueViolationError),
        (1555, UniqueViolationError),
        (787, ForeignKeyViolationError),
        (1299, IntegrityViolationError),
        (275, IntegrityViolationError),
        (5, TransactionConflictError),
        (517, TransactionConflictError),
    ],
)
def test_sqlite_errors_are_classified_by_extended_code(code: int, expected: type) -> None:
    assert type(translate_error(sqlite_error(code))) is expected


def test_postgres_unique_violation_names_constraint_and_columns_not_values() -> None:
    driver = FakePostgresError(
        "23505",
        constraint_name="uq_users_email",
        detail="Key (email, tenant_id)=(alice@example.com, 7) already exists.",
    )
    error = translate_error(DBAPIError("INSERT", {}, driver))

    assert isinstance(error, UniqueViolationError)
    assert error.extensions == {"constraint": "uq_users_email", "fields": ["email", "tenant_id"]}
    assert "alice" not in str(error.detail)


def test_unmapped_errors_are_left_alone() -> None:
    assert translate_error(DBAPIError("SELECT", {}, FakePostgresError("42P01"))) is None
    assert translate_error(sqlite_error(1)) is None
    assert translate_error(ValueError("not a database error")) is None


def test_connection_failures_are_unavailable() -> None:
    assert isinstance(translate_error(ConnectionRefusedError()), DatabaseUnavailableError)
    invalidated = OperationalError("SELECT 1", {}, Exception(), connection_invalidated=True)
    assert isinstance(translate_error(invalidated), DatabaseUnavailableError)


def test_stale_data_is_a_stale_version_conflict() -> None:
    error = translate_error(StaleDataError("UPDATE statement expected 1 row"))

    assert isinstance(error, StaleVersionError)
    assert error.status == 409


async def test_an_id_beyond_64_bits_is_an_invalid_value_on_every_backend(db: Database) -> None:
    with pytest.raises(InvalidValueError) as error:
        async with db.session() as session:
            await CategoryRepository(session).get_or_none(2**64)
    assert error.value.status == 422
    assert "18446744073709551616" not in str(error.value.detail)


async def test_the_applications_own_overflow_is_not_translated(db: Database) -> None:
    with pytest.raises(OverflowError):
        async with db.session():
            float(10**400)  # the caller's own error passes as it is


@pytest.mark.parametrize("sqlstate", ["22012", "2201B", "22023"])
def test_data_exceptions_that_are_the_applications_bugs_stay_unhandled(sqlstate: str) -> None:
    error = DBAPIError("SELECT 1/0", {}, FakePostgresError(sqlstate))  # type: ignore[arg-type]
    assert translate_error(error) is None


def test_an_overflow_from_a_module_that_only_looks_like_a_driver_is_not_translated() -> None:
    namespace: dict[str, object] = {"__name__": "sqlite3_helpers"}
    exec("def compute():\n    return 2.0 ** 5000\n", namespace)  # noqa: S102 - a module named so
    with pytest.raises(OverflowError) as caught:
        namespace["compute"]()  # type: ignore[operator]
    assert translate_error(caught.value) is None


async def test_an_out_of_range_value_caught_at_commit_is_an_invalid_value(db: Database) -> None:
    with pytest.raises(InvalidValueError):
        async with db.session() as session:
            session.add(Category(id=2**64, name="huge"))  # flushed only by the commit
