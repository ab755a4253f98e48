from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from fastapi_pro.errors import (
    PROBLEM_MEDIA_TYPE,
    ConflictError,
    NotFoundError,
    install_error_handlers,
    problem_responses,
)


class Order(BaseModel):
    sku: str


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"
    title = "Order not found"


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/orders", responses=problem_responses(ConflictError))
    async def create(order: Order) -> Order:
        return order

    @app.get("/orders/{order_id}", responses=problem_responses(NotFoundError, OrderNotFoundError))
    async def read(order_id: int) -> Order:
        raise OrderNotFoundError

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "pass"}

    return app


def responses(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    result: dict[str, Any] = schema["paths"][path][method]["responses"]
    return result


def test_generated_422_uses_the_validation_problem_schema() -> None:
    schema = make_app().openapi()

    response = responses(schema, "/orders", "post")["422"]
    assert response["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblemDetail"}}
    }
    components = schema["components"]["schemas"]
    assert "ProblemDetail" in components
    assert components["ValidationProblemDetail"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ValidationErrorItem"
    }
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components
    assert "HTTPValidationError" not in json.dumps(schema)


def test_json_body_routes_document_a_400_for_malformed_bodies() -> None:
    schema = make_app().openapi()

    assert "400" in responses(schema, "/orders", "post")
    assert "400" not in responses(schema, "/orders/{order_id}", "get")


def test_problem_responses_document_problem_json_only() -> None:
    schema = make_app().openapi()

    conflict = responses(schema, "/orders", "post")["409"]
    assert list(conflict["content"]) == [PROBLEM_MEDIA_TYPE]
    assert conflict["content"][PROBLEM_MEDIA_TYPE]["schema"] == {
        "$ref": "#/components/schemas/ProblemDetail"
    }
    assert conflict["description"] == "Conflict"


def test_errors_with_one_status_share_an_entry_with_an_example_each() -> None:
    schema = make_app().openapi()

    not_found = responses(schema, "/orders/{order_id}", "get")["404"]
    examples = not_found["content"][PROBLEM_MEDIA_TYPE]["examples"]
    assert set(examples) == {"not_found", "order_not_found"}
    assert examples["order_not_found"]["value"] == {
        "type": "about:blank",
        "title": "Order not found",
        "status": 404,
        "code": "order_not_found",
    }


def test_routes_without_parameters_get_no_error_entries() -> None:
    schema = make_app().openapi()

    assert set(responses(schema, "/health", "get")) == {"200"}


def test_schema_is_stable_across_calls_and_new_routes() -> None:
    app = make_app()
    first = json.dumps(app.openapi(), sort_keys=True)
    assert json.dumps(app.openapi(), sort_keys=True) == first

    @app.get("/late/{item_id}")
    async def late(item_id: int) -> None:
        return None

    schema = app.openapi()
    assert responses(schema, "/late/{item_id}", "get")["422"]["content"][PROBLEM_MEDIA_TYPE]


def test_openapi_rewrite_can_be_turned_off() -> None:
    app = FastAPI()
    install_error_handlers(app, openapi=False)

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> None:
        return None

    assert "HTTPValidationError" in app.openapi()["components"]["schemas"]
