from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from fastapi_pro.errors import (
    DEFAULT_CHALLENGE,
    PROBLEM_MEDIA_TYPE,
    AppError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ProblemDetail,
    RateLimitedError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    install_error_handlers,
)
from tests.conftest import ClientFactory

EVERY_ERROR = [
    (BadRequestError, 400, "bad_request", "Bad Request"),
    (AuthenticationError, 401, "unauthorized", "Unauthorized"),
    (PermissionDeniedError, 403, "forbidden", "Forbidden"),
    (NotFoundError, 404, "not_found", "Not Found"),
    (ConflictError, 409, "conflict", "Conflict"),
    (PreconditionFailedError, 412, "precondition_failed", "Precondition Failed"),
    (UnprocessableEntityError, 422, "unprocessable_entity", "Unprocessable Entity"),
    (RateLimitedError, 429, "too_many_requests", "Too Many Requests"),
    (ServiceUnavailableError, 503, "service_unavailable", "Service Unavailable"),
]


def app_raising(error: Exception, **options: object) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, **options)  # type: ignore[arg-type]

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


@pytest.mark.parametrize(("cls", "status", "code", "title"), EVERY_ERROR)
async def test_every_error_class_renders_its_problem_document(
    client_for: ClientFactory, cls: type[AppError], status: int, code: str, title: str
) -> None:
    async with client_for(app_raising(cls("Something precise happened."))) as client:
        response = await client.get("/boom")

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body == {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": "Something precise happened.",
        "code": code,
        "request_id": response.headers["x-request-id"],
    }
    ProblemDetail.model_validate(body)


async def test_authentication_error_sends_a_challenge(client_for: ClientFactory) -> None:
    error = AuthenticationError(www_authenticate='Bearer realm="api"')
    async with client_for(app_raising(error)) as client:
        response = await client.get("/boom")

    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert "detail" not in response.json()


async def test_authentication_error_without_auth_sends_the_default_realms_challenge(
    client_for: ClientFactory,
) -> None:
    assert AuthenticationError().headers == {}  # the handlers choose the app's challenge
    async with client_for(app_raising(AuthenticationError())) as client:
        response = await client.get("/boom")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"' == DEFAULT_CHALLENGE


@pytest.mark.parametrize("cls", [RateLimitedError, ServiceUnavailableError])
async def test_retry_after_in_seconds_is_rounded_up(
    client_for: ClientFactory, cls: type[RateLimitedError]
) -> None:
    async with client_for(app_raising(cls(retry_after=2.1))) as client:
        response = await client.get("/boom")

    assert response.headers["retry-after"] == "3"


def test_retry_after_accepts_an_aware_datetime_as_http_date() -> None:
    when = datetime(2026, 11, 26, 12, 0, tzinfo=UTC) + timedelta(hours=1)
    error = ServiceUnavailableError(retry_after=when)
    assert error.headers["Retry-After"] == "Thu, 26 Nov 2026 13:00:00 GMT"


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), datetime(2026, 1, 1)])  # noqa: DTZ001
def test_retry_after_refuses_values_that_are_not_a_delay_or_aware_date(bad: object) -> None:
    with pytest.raises(ValueError, match="Retry-After"):
        RateLimitedError(retry_after=bad)  # type: ignore[arg-type]


async def test_subclass_overrides_code_title_and_type(client_for: ClientFactory) -> None:
    class OrderNotFoundError(NotFoundError):
        code = "order_not_found"
        title = "Order not found"
        type_uri = "https://errors.example.com/order-not-found"

    async with client_for(app_raising(OrderNotFoundError())) as client:
        body = (await client.get("/boom")).json()

    assert body["code"] == "order_not_found"
    assert body["title"] == "Order not found"
    assert body["type"] == "https://errors.example.com/order-not-found"
    assert body["status"] == 404


async def test_code_can_be_given_per_occurrence(client_for: ClientFactory) -> None:
    async with client_for(app_raising(ConflictError("Taken.", code="email_taken"))) as client:
        body = (await client.get("/boom")).json()

    assert body["code"] == "email_taken"


async def test_type_base_uri_prefixes_the_code(client_for: ClientFactory) -> None:
    app = app_raising(NotFoundError(), type_base_uri="https://errors.example.com/")
    async with client_for(app) as client:
        body = (await client.get("/boom")).json()

    assert body["type"] == "https://errors.example.com/not_found"


async def test_extensions_and_instance_are_rendered_as_json(client_for: ClientFactory) -> None:
    order_id = uuid.UUID("0190b5c0-7a4e-7cc2-8f5e-3c1d2b4a5f60")
    error = ConflictError(
        "Order already paid.",
        extensions={"order_id": order_id, "paid_at": datetime(2026, 1, 2, tzinfo=UTC)},
        instance="/orders/0190b5c0",
        headers={"ETag": '"7"'},
    )
    async with client_for(app_raising(error)) as client:
        response = await client.get("/boom")

    body = response.json()
    assert body["order_id"] == str(order_id)
    assert body["paid_at"] == "2026-01-02T00:00:00+00:00"
    assert body["instance"] == "/orders/0190b5c0"
    assert response.headers["etag"] == '"7"'


@pytest.mark.parametrize("member", ["status", "title", "type", "detail", "code", "request_id"])
def test_extensions_may_not_replace_standard_members(member: str) -> None:
    with pytest.raises(ValueError, match="clash with standard problem members"):
        NotFoundError(extensions={member: "x"})


async def test_plain_app_error_is_a_500_whose_detail_stays_in_the_log(
    client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(app_raising(AppError("db password is hunter2"))) as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert response.json()["code"] == "internal_server_error"
    [record] = [r for r in caplog.records if r.name == "fastapi_pro.errors"]
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])
    assert record.levelno == logging.ERROR


def test_error_str_and_repr_name_the_problem() -> None:
    assert str(NotFoundError()) == "Not Found"
    assert str(NotFoundError("Order 1 is gone.")) == "Order 1 is gone."
    assert repr(NotFoundError("x")) == "NotFoundError(detail='x', code='not_found')"


def test_install_twice_is_refused_with_a_clear_message() -> None:
    app = FastAPI()
    install_error_handlers(app)
    with pytest.raises(RuntimeError, match="already called for this app"):
        install_error_handlers(app)
