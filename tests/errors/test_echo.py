"""What an error answer repeats of the client's input is short, escaped and quoted."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, field_validator

from fastapi_pro.auth import Auth, Principal, password_flow_router
from fastapi_pro.db import SortField, sort_params
from fastapi_pro.errors import install_error_handlers, quote_input
from fastapi_pro.testing import assert_problem
from tests.auth.helpers import load_user, make_tokens
from tests.conftest import ClientFactory

HUGE = "x" * 60_000
NASTY = 'a"b\\c\nd\re\tf\x00g\x1b[31mh\u202ei\u2028j\ud800k'


def test_a_short_value_is_quoted_as_it_is() -> None:
    assert quote_input("colour") == '"colour"'
    assert quote_input("prix à l'unité") == '"prix à l\'unité"'
    assert quote_input(42) == '"42"'


def test_a_long_value_is_cut_and_its_length_told() -> None:
    assert quote_input(HUGE) == '"' + "x" * 40 + '…" (60000 characters)'
    assert quote_input("abcdef", limit=3) == '"abc…" (6 characters)'


def test_quotes_backslashes_and_unprintable_characters_are_escaped() -> None:
    quoted = quote_input(NASTY, limit=100)

    assert quoted == ('"a\\"b\\\\c\\nd\\re\\tf\\x00g\\x1b[31mh\\u202ei\\u2028j\\ud800k"')
    assert quoted.isprintable()
    assert quoted.encode("utf-8")  # no lone surrogate left to break the JSON encoder


def test_escapes_do_not_lift_the_bound() -> None:
    quoted = quote_input("\x00" * 60_000)

    assert quoted == '"' + "\\x00" * 40 + '…" (60000 characters)'


# -- through HTTP ---------------------------------------------------------------------------------


class Note(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def no_digits(cls, value: str) -> str:
        if any(char.isdigit() for char in value):
            msg = f"{value} holds a digit"  # a validator that repeats its input
            raise ValueError(msg)
        return value


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, include_validation_input=True)
    auth = Auth(make_tokens(), user_loader=load_user)
    auth.install(app, token_url="/auth/token")

    async def nobody(username: str, password: str) -> Principal | None:
        return None

    app.include_router(password_flow_router(nobody))

    @app.get("/products")
    async def products(
        sort: Annotated[list[SortField], Depends(sort_params("name", "price"))],
    ) -> list[str]:
        return [str(field) for field in sort]

    @app.post("/notes")
    async def notes(note: Note) -> Note:
        return note

    @app.post("/counts")
    async def counts(values: dict[str, int]) -> int:
        return len(values)

    @app.post("/numbers")
    async def numbers(values: list[int]) -> int:
        return len(values)

    return app


def assert_small(response: httpx.Response) -> dict[str, object]:
    assert len(response.content) < 2_000
    body: dict[str, object] = json.loads(response.content)  # well-formed JSON
    return body


async def test_a_60_kb_sort_value_is_not_echoed(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/products", params={"sort": HUGE})

    problem = assert_problem(response, 400, code="invalid_sort")
    assert_small(response)
    assert problem["detail"] == (
        f'Cannot sort by "{"x" * 40}…" (60000 characters). Sortable fields: name, price.'
    )


async def test_control_characters_in_a_sort_value_are_escaped(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/products", params={"sort": 'a"b\nc\x1b\u202ed'})

    problem = assert_problem(response, 400, code="invalid_sort")
    assert problem["detail"].startswith('Cannot sort by "a\\"b\\nc\\x1b\\u202ed".')


@pytest.mark.parametrize("size", [60_000, 8_000])
async def test_a_long_grant_type_is_not_echoed(client_for: ClientFactory, size: int) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/auth/token", data={"grant_type": "g" * size})

    problem = assert_small(response)
    assert response.status_code == 400
    assert "g" * 41 not in response.text
    assert problem["code"] in {"unsupported_grant_type", "invalid_request"}


async def test_an_unsupported_grant_type_is_named_quoted_and_escaped(
    client_for: ClientFactory,
) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/auth/token", data={"grant_type": 'x"\n\u202e'})

    problem = assert_problem(response, 400, code="unsupported_grant_type")
    assert problem["detail"] == 'grant_type "x\\"\\n\\u202e" is not supported.'


async def test_echoed_validation_input_is_bounded(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/notes", json={"text": "1" + HUGE})

    problem = assert_problem(response, 422, code="validation_failed")
    assert_small(response)
    [error] = problem["errors"]
    assert error["input"] == '"1' + "x" * 98 + "…"
    assert error["detail"].endswith("…")
    assert len(error["detail"]) == 301


async def test_a_short_validation_input_is_echoed_as_it_is(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/notes", json={"text": "r2d2"})

    [error] = response.json()["errors"]
    assert error["input"] == "r2d2"


async def test_a_422_lists_at_most_50_errors(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/numbers", json=["x"] * 10_000)

    problem = assert_problem(response, 422, code="validation_failed")
    assert len(problem["errors"]) == 50
    assert problem["detail"] == (
        "The request failed validation (10000 errors; the first 50 are listed)."
    )
    assert len(response.content) < 10_000


async def test_a_long_key_in_a_pointer_is_cut(client_for: ClientFactory) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/counts", json={"k/" + HUGE: "not a number"})

    problem = assert_problem(response, 422, code="validation_failed")
    assert_small(response)
    [error] = problem["errors"]
    assert error["pointer"] == "#/body/k~1" + "x" * 98 + "…"
