from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastapi_pro.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from tests.conftest import ClientFactory


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def list_items() -> list[int]:
        return []

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "Short and stout.", headers={"X-Pot": "full"})

    @app.get("/structured")
    async def structured() -> None:
        raise HTTPException(400, detail={"field": "sku", "reason": "retired"})

    @app.get("/starlette")
    async def starlette_error() -> None:
        raise StarletteHTTPException(409)

    @app.get("/gateway")
    async def gateway() -> None:
        raise HTTPException(502, "upstream at 10.0.0.7:5432 refused the connection")

    @app.get("/not-modified")
    async def not_modified() -> None:
        raise HTTPException(304, headers={"ETag": '"1"'})

    return app


async def test_unknown_route_is_a_404_problem(app: FastAPI, client_for: ClientFactory) -> None:
    async with client_for(app) as client:
        response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "not_found",
        "request_id": response.headers["x-request-id"],
    }


async def test_wrong_method_is_a_405_problem_with_allow(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.delete("/items")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["allow"] == "GET"
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE"])
async def test_a_405_allows_every_method_of_the_path_across_routes_and_routers(
    client_for: ClientFactory, method: str
) -> None:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(prefix="/orders")
    router.add_api_route("", lambda: [], methods=["GET"])
    router.add_api_route("", lambda: {}, methods=["POST"], status_code=201)
    router.add_api_route("/{order_id}", lambda order_id: {}, methods=["PATCH"])
    app.include_router(router)
    app.add_api_route("/orders", lambda: None, methods=["HEAD"])

    async with client_for(app) as client:
        response = await client.request(method, "/orders")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


async def test_http_exception_keeps_detail_and_headers(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.get("/teapot")

    assert response.status_code == 418
    assert response.headers["x-pot"] == "full"
    body = response.json()
    assert body["detail"] == "Short and stout."
    assert body["code"] == "i_m_a_teapot"


async def test_structured_detail_goes_to_a_data_member(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        body = (await client.get("/structured")).json()

    assert "detail" not in body
    assert body["data"] == {"field": "sku", "reason": "retired"}
    assert body["code"] == "bad_request"


async def test_starlette_http_exception_is_rendered_too(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.get("/starlette")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "detail" not in response.json()


async def test_server_error_http_exception_hides_its_text(
    app: FastAPI, client_for: ClientFactory
) -> None:
    async with client_for(app) as client:
        response = await client.get("/gateway")

    assert response.status_code == 502
    assert "10.0.0.7" not in response.text
    assert response.json()["code"] == "bad_gateway"


async def test_status_without_body_stays_empty(app: FastAPI, client_for: ClientFactory) -> None:
    async with client_for(app) as client:
        response = await client.get("/not-modified")

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'
