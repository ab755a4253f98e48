from __future__ import annotations

import pytest
from fastapi import FastAPI, Query, WebSocket
from pydantic import BaseModel, Field
from starlette.types import Message

from fastapi_pro.errors import PROBLEM_MEDIA_TYPE, ValidationProblemDetail, install_error_handlers
from tests.conftest import ClientFactory


class Item(BaseModel):
    sku: str
    price: float = Field(gt=0)


class Order(BaseModel):
    items: list[Item]
    coupon: str | None = None


class Signup(BaseModel):
    email: str = Field(pattern=r".+@.+")
    password: str = Field(min_length=12)


def make_app(**options: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, **options)

    @app.post("/orders")
    async def create_order(order: Order, limit: int = Query(10, le=100)) -> Order:
        return order

    @app.post("/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"email": body.email}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, token: int) -> None:
        await websocket.accept()

    return app


async def test_body_error_points_into_the_body(client_for: ClientFactory) -> None:
    payload = {"items": [{"sku": "a", "price": 1}, {"sku": "b", "price": -5}]}
    async with client_for(make_app()) as client:
        response = await client.post("/orders", json=payload)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = ValidationProblemDetail.model_validate(response.json())
    assert body.code == "validation_failed"
    assert body.detail == "The request failed validation (1 error)."
    [error] = body.errors
    assert error.pointer == "#/body/items/1/price"
    assert error.type == "greater_than"
    assert error.detail == "Input should be greater than 0"


async def test_query_error_points_at_the_parameter(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/orders?limit=many", json={"items": []})

    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == ["#/query/limit"]
    assert errors[0]["type"] == "int_parsing"


async def test_every_error_is_listed(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/orders?limit=1000", json={"items": [{}]})

    body = response.json()
    assert body["detail"] == "The request failed validation (3 errors)."
    assert sorted(e["pointer"] for e in body["errors"]) == [
        "#/body/items/0/price",
        "#/body/items/0/sku",
        "#/query/limit",
    ]


async def test_submitted_values_are_not_echoed(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post(
            "/signup", json={"email": "not-an-email", "password": "hunter2-short"}
        )

    assert response.status_code == 422
    assert "hunter2" not in response.text
    assert "not-an-email" not in response.text
    assert all("input" not in e for e in response.json()["errors"])


async def test_missing_field_error_does_not_echo_the_sibling_secret(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/signup", json={"password": "correct horse battery"})

    assert response.json()["errors"][0]["pointer"] == "#/body/email"
    assert "correct horse" not in response.text


async def test_opt_in_input_echo_still_redacts_secrets(client_for: ClientFactory) -> None:
    app = make_app(include_validation_input=True)
    async with client_for(app) as client:
        short = await client.post("/signup", json={"email": "x@y", "password": "hunter2"})
        missing = await client.post("/signup", json={"password": "correct horse battery"})

    assert short.json()["errors"][0]["input"] == "[redacted]"
    assert "hunter2" not in short.text
    assert missing.json()["errors"][0]["input"] == {"password": "[redacted]"}
    assert "correct horse" not in missing.text


async def test_opt_in_input_echo_shows_ordinary_values(client_for: ClientFactory) -> None:
    app = make_app(include_validation_input=True)
    async with client_for(app) as client:
        response = await client.post("/orders?limit=many", json={"items": []})

    assert response.json()["errors"][0]["input"] == "many"


async def test_malformed_json_is_a_400_problem(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post(
            "/orders",
            content=b'{"items": [1, }',
            headers={"content-type": "application/json"},
        )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["code"] == "malformed_body"
    assert body["errors"][0]["pointer"] == "#/body"
    assert "character 14" in body["detail"]


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"[" * 100_000,  # nested past the recursion limit
        '{"sku": "\u00e9\u0301\ud7ff"'.encode(),  # truncated non-ASCII
        b"",  # empty body for a required body
    ],
    ids=["not-utf8", "too-deep", "truncated-non-ascii", "empty"],
)
async def test_hostile_bodies_get_a_4xx_problem_never_a_500(
    client_for: ClientFactory, content: bytes
) -> None:
    async with client_for(make_app()) as client:
        response = await client.post(
            "/orders", content=content, headers={"content-type": "application/json"}
        )

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_websocket_validation_closes_without_echoing_input() -> None:
    sent: list[Message] = []
    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"token=s3cret-value",
        "headers": [],
        "scheme": "ws",
        "server": ("testserver", 80),
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await make_app()(scope, receive, send)

    [close] = sent
    assert close["type"] == "websocket.close"
    assert close["code"] == 1008
    assert "s3cret" not in close["reason"]
