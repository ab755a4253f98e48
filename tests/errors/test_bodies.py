"""Request bodies that cannot be read: one code per fault, always the same problem shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI, Request
from fastapi.responses import PlainTextResponse

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.testing import assert_problem
from tests.conftest import ClientFactory

JSON = {"content-type": "application/json"}


def make_app(**app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)
    install_error_handlers(app)

    @app.post("/things")
    async def things(data: Annotated[Any, Body()]) -> dict[str, str]:
        return {"type": type(data).__name__}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.get("/teapot-sized")
    async def refuse() -> PlainTextResponse:
        return PlainTextResponse("Send a smaller file.", status_code=413, headers={"X-Own": "1"})

    return app


UNDECODABLE = {
    "syntax": b'{"a": ',
    "invalid-utf8": b'{"a": "\xff\xfe"}',
    "deep-nesting": b"[" * 10_000 + b"]" * 10_000,
    "utf8-bom": b'\xef\xbb\xbf{"a": 1}',
    "utf16-bom": '{"a": 1}'.encode("utf-16"),
    "utf16-le": '{"a": 1}'.encode("utf-16-le"),
    "utf16-be": '{"a": 1}'.encode("utf-16-be"),
    "utf32": '{"a": 1}'.encode("utf-32"),
    "long-integer": b'{"a": ' + b"9" * 5000 + b"}",
    "encoded-surrogate": b'{"a": "\xed\xa0\x80"}',
}


@pytest.mark.parametrize("body", UNDECODABLE.values(), ids=UNDECODABLE.keys())
async def test_a_json_body_that_cannot_be_decoded_is_a_400_malformed_body(
    client_for: ClientFactory, body: bytes
) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/things", content=body, headers=JSON)

    problem = assert_problem(response, 400, code="malformed_body", title="Bad Request")
    assert set(problem) == {"type", "title", "status", "detail", "code", "request_id", "errors"}
    assert problem["detail"].startswith("The request body is not valid JSON")
    assert problem["errors"] == [
        {"pointer": "#/body", "detail": problem["detail"], "type": "json_invalid"}
    ]
    assert len(response.content) < 1000


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (UNDECODABLE["invalid-utf8"], "invalid UTF-8 at byte 7."),
        (UNDECODABLE["deep-nesting"], "it is nested too deeply to decode."),
        (UNDECODABLE["utf8-bom"], "it must be UTF-8, without a byte order mark."),
        (UNDECODABLE["utf16-le"], "it must be UTF-8, without a byte order mark."),
        (
            UNDECODABLE["encoded-surrogate"],
            "it holds an encoded UTF-16 surrogate, which UTF-8 does not allow.",
        ),
    ],
)
async def test_the_detail_says_why(client_for: ClientFactory, body: bytes, detail: str) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/things", content=body, headers=JSON)

    assert response.json()["detail"] == f"The request body is not valid JSON: {detail}"


async def test_a_byte_order_mark_split_across_chunks_is_found(client_for: ClientFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"\xef"
        yield b"\xbb"
        yield b'\xbf{"a": 1}'

    async with client_for(make_app()) as client:
        response = await client.post("/things", content=chunks(), headers=JSON)

    assert_problem(response, 400, code="malformed_body")


async def test_a_surrogate_split_across_chunks_is_found(client_for: ClientFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "' + b"x" * 100 + b"\xed"
        yield b'\xa0\x80"}'

    async with client_for(make_app()) as client:
        response = await client.post("/things", content=chunks(), headers=JSON)

    assert_problem(response, 400, code="malformed_body")


async def test_valid_utf8_near_the_surrogates_is_accepted(client_for: ClientFactory) -> None:
    text = "\ud7ff\ue000 한국어 😀"  # the code points on either side of the surrogate range
    async with client_for(make_app()) as client:
        response = await client.post("/things", content=f'{{"a": "{text}"}}'.encode(), headers=JSON)

    assert response.json() == {"type": "dict"}


async def test_any_json_media_type_is_checked(client_for: ClientFactory) -> None:
    headers = {"content-type": "application/merge-patch+json; charset=utf-8"}
    async with client_for(make_app()) as client:
        response = await client.post("/raw", content=b'\xef\xbb\xbf{"a": 1}', headers=headers)

    assert_problem(response, 400, code="malformed_body")


async def test_other_media_types_keep_their_bytes(client_for: ClientFactory) -> None:
    body = "text".encode("utf-16")
    async with client_for(make_app()) as client:
        response = await client.post(
            "/raw", content=body, headers={"content-type": "text/plain; charset=utf-16"}
        )
        valid = await client.post("/things", json={"a": "é"})

    assert response.json() == {"size": len(body)}
    assert valid.json() == {"type": "dict"}


async def test_a_body_over_max_body_size_is_a_413_problem(client_for: ClientFactory) -> None:
    async with client_for(make_app(max_body_size=10)) as client:
        response = await client.post("/things", content=b'"' + b"x" * 20 + b'"', headers=JSON)

    problem = assert_problem(response, 413, code="content_too_large", title="Content Too Large")
    assert problem["detail"] == (
        "The request body is larger than the 10 bytes this endpoint accepts."
    )


async def test_an_apps_own_413_is_left_as_it_is(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/teapot-sized")

    assert response.status_code == 413
    assert response.text == "Send a smaller file."
    assert response.headers["x-own"] == "1"
