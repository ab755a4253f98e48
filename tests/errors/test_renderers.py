"""The renderer seam: each shipped error shape end to end, through `setup()` and real HTTP.

Each shape is checked on what the handlers own (statuses, the malformed-body 400, database
error translation, 500 masking, request ids, ``WWW-Authenticate``, ``Retry-After``, ``Allow``,
the 413) and on the OpenAPI document, which must describe the shape the API sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from fastapi_pro import Settings, setup
from fastapi_pro.db import SessionDep
from fastapi_pro.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    AuthenticationError,
    ErrorRenderer,
    FastAPIDetailRenderer,
    FieldError,
    FieldErrorsRenderer,
    NotFoundError,
    Problem,
    ProblemDetailsRenderer,
    RateLimitedError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    declare_problems,
    install_error_handlers,
    problem_responses,
    renderer_of,
)
from fastapi_pro.observability import install_observability
from tests.servers import in_process as serve

pytestmark = pytest.mark.usefixtures("restore_logging")

metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(80), unique=True, nullable=False),
)


class Credentials(BaseModel):
    email: str
    password: str


class Login(BaseModel):
    user: Credentials


def make_app() -> FastAPI:
    """A small API whose every route fails in a different way the handlers own."""
    app = FastAPI()

    @app.post("/users", status_code=201, responses=problem_responses(UnprocessableEntityError))
    async def register(body: Login, session: SessionDep) -> dict[str, int]:
        if body.user.email == _TAKEN:
            where = ("body", "user", "email")
            raise UnprocessableEntityError(errors=[FieldError(where, "has already been taken")])
        statement = insert(users).values(email=body.user.email).returning(users.c.id)
        return {"id": (await session.execute(statement)).scalar_one()}

    _add_failing_routes(app)
    return app


def _add_failing_routes(app: FastAPI) -> None:
    @app.get("/articles/{slug}", responses=problem_responses(NotFoundError))
    async def article(slug: str) -> dict[str, str]:
        raise NotFoundError(f"Article {slug!r} does not exist.")

    @app.get("/private")
    async def private() -> None:
        raise AuthenticationError

    @app.get("/busy")
    async def busy() -> None:
        raise RateLimitedError("Slow down.", retry_after=7)

    @app.get("/legacy")
    async def legacy(structured: bool = False) -> None:
        raise HTTPException(418, {"reason": "teapot"} if structured else "I am a teapot.")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("the secret internals")


def settings_for(tmp_path: Path, **errors: Any) -> Settings:
    database = {"url": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}
    return Settings(_env_file=None, database=database, errors=errors, max_body_size=1024)


def served(tmp_path: Path, *, renderer: ErrorRenderer | None = None, **errors: Any) -> FastAPI:
    """The app as `setup()` wires it: the shape from settings, or the given renderer."""
    app = make_app()
    if renderer is None:
        setup(app, settings_for(tmp_path, **errors), metadata=metadata)
    else:
        setup(app, settings_for(tmp_path), metadata=metadata, errors=renderer)
    return app


async def failures(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    """One response of each failure the handlers own, by name."""
    login = {"user": {"email": "ann@example.com", "password": "pw"}}
    await client.post("/users", json=login)
    return {
        "invalid": await client.post("/users", json={"user": {"email": 7}}),
        "malformed": await client.post("/users", content=b'{"user": ', headers=_JSON),
        "taken": await client.post("/users", json={"user": {**login["user"], "email": _TAKEN}}),
        "duplicate": await client.post("/users", json=login),
        "not_found": await client.get("/articles/intro"),
        "unauthorized": await client.get("/private"),
        "rate_limited": await client.get("/busy"),
        "teapot": await client.get("/legacy"),
        "structured": await client.get("/legacy", params={"structured": "true"}),
        "crash": await client.get("/crash"),
        "no_route": await client.get("/nowhere"),
        "wrong_method": await client.delete("/private"),
        "too_large": await client.post("/users", content=b"x" * 2048, headers=_JSON),
    }


_JSON = {"content-type": "application/json"}
_TAKEN = "taken@example.com"


async def test_field_errors_shape_end_to_end(tmp_path: Path) -> None:
    async with serve(served(tmp_path, shape="field_errors")) as client:
        got = await failures(client)

    assert {name: r.status_code for name, r in got.items()} == {
        "invalid": 422,
        "malformed": 400,
        "taken": 422,
        "duplicate": 409,
        "not_found": 404,
        "unauthorized": 401,
        "rate_limited": 429,
        "teapot": 418,
        "structured": 418,
        "crash": 500,
        "no_route": 404,
        "wrong_method": 405,
        "too_large": 413,
    }
    assert got["invalid"].json() == {
        "errors": {
            "user.email": ["Input should be a valid string"],
            "user.password": ["Field required"],
        }
    }
    assert got["taken"].json() == {"errors": {"user.email": ["has already been taken"]}}
    assert got["not_found"].json() == {"errors": {"not_found": ["Article 'intro' does not exist."]}}
    assert list(got["malformed"].json()["errors"]) == ["body"]
    assert got["duplicate"].json()["errors"].keys() == {"unique_violation"}
    assert got["crash"].json() == {"errors": {"internal_server_error": ["Internal Server Error"]}}
    _assert_the_library_still_owns_the_rest(got, media_type="application/json")


def _assert_the_library_still_owns_the_rest(
    got: dict[str, httpx.Response], *, media_type: str
) -> None:
    for name, response in got.items():
        assert response.headers["content-type"] == media_type, name
        assert len(response.headers["x-request-id"]) >= 16, name
    assert got["unauthorized"].headers["www-authenticate"].startswith("Bearer realm=")
    assert got["rate_limited"].headers["retry-after"] == "7"
    assert got["wrong_method"].headers["allow"] == "GET"
    assert "secret" not in got["crash"].text


async def test_field_errors_validation_status_and_key_are_configurable(tmp_path: Path) -> None:
    renderer = FieldErrorsRenderer(validation_status=400, key=lambda error: str(error.loc[-1]))
    async with serve(served(tmp_path, renderer=renderer)) as client:
        response = await client.post("/users", json={"user": {"email": "a@example.com"}})
        schema = (await client.get("/openapi.json")).json()

    assert response.status_code == 400
    assert response.json() == {"errors": {"password": ["Field required"]}}
    responses = schema["paths"]["/users"]["post"]["responses"]
    assert "422" in responses  # the app's own UnprocessableEntityError stays documented
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldErrorsBody"
    }


async def test_fastapi_detail_shape_matches_plain_fastapi(tmp_path: Path, client_for: Any) -> None:
    async with serve(served(tmp_path, shape="fastapi_detail")) as client:
        ours = await _plain_fastapi_requests(client)
    async with client_for(_plain_fastapi_twin()) as client:
        theirs = await _plain_fastapi_requests(client)

    for name, response in ours.items():
        assert response.status_code == theirs[name].status_code, name
        assert _without_input(response.json()) == _without_input(theirs[name].json()), name


async def _plain_fastapi_requests(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    return {
        "invalid": await client.post("/users", json={"user": {"email": 7}}),
        "teapot": await client.get("/legacy"),
        "structured": await client.get("/legacy", params={"structured": "true"}),
        "no_route": await client.get("/nowhere"),
        "wrong_method": await client.delete("/legacy"),
    }


def _plain_fastapi_twin() -> FastAPI:
    """The same routes on a FastAPI app without fastapi-pro: what its clients parse today."""
    app = FastAPI()

    @app.post("/users")
    async def register(body: Login) -> None: ...

    _add_failing_routes(app)
    return app


def _without_input(body: dict[str, Any]) -> dict[str, Any]:
    """FastAPI echoes every submitted value (and a docs URL); the library echoes none."""
    if not isinstance(body.get("detail"), list):
        return body
    keep = ("type", "loc", "msg")
    return {"detail": [{key: item[key] for key in keep} for item in body["detail"]]}


async def test_fastapi_detail_shape_end_to_end(tmp_path: Path) -> None:
    async with serve(served(tmp_path, shape="fastapi_detail")) as client:
        got = await failures(client)

    assert got["invalid"].status_code == 422
    assert got["invalid"].json()["detail"][1] == {
        "type": "missing",
        "loc": ["body", "user", "password"],
        "msg": "Field required",
    }
    assert got["malformed"].status_code == 400
    assert got["malformed"].json()["detail"][0]["loc"] == ["body"]
    assert got["structured"].json() == {"detail": {"reason": "teapot"}}
    assert got["not_found"].json() == {"detail": "Article 'intro' does not exist."}
    assert got["no_route"].json() == {"detail": "Not Found"}
    assert got["crash"].json() == {"detail": "Internal Server Error"}
    assert got["duplicate"].status_code == 409
    _assert_the_library_still_owns_the_rest(got, media_type="application/json")


async def test_problem_details_stay_the_default(tmp_path: Path) -> None:
    async with serve(served(tmp_path)) as client:
        got = await failures(client)

    _assert_the_library_still_owns_the_rest(got, media_type=PROBLEM_MEDIA_TYPE)
    assert got["taken"].json()["errors"] == [
        {"pointer": "#/body/user/email", "detail": "has already been taken", "type": "value_error"}
    ]
    assert got["structured"].json()["data"] == {"reason": "teapot"}


async def test_problem_details_with_a_validation_status_keep_status_and_title_in_step(
    tmp_path: Path,
) -> None:
    async with serve(served(tmp_path, validation_status=400)) as client:
        response = await client.post("/users", json={})

    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert response.json()["title"] == "Bad Request"
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize(
    ("shape", "media_type", "error", "validation"),
    [
        ("problem_details", PROBLEM_MEDIA_TYPE, "ProblemDetail", "ValidationProblemDetail"),
        ("field_errors", "application/json", "FieldErrorsBody", "FieldErrorsBody"),
        ("fastapi_detail", "application/json", "DetailBody", "DetailValidationBody"),
    ],
)
async def test_openapi_describes_the_chosen_shape(
    tmp_path: Path, shape: str, media_type: str, error: str, validation: str
) -> None:
    async with serve(served(tmp_path, shape=shape)) as client:
        schema = (await client.get("/openapi.json")).json()
        got = await failures(client)

    operation = schema["paths"]["/users"]["post"]["responses"]
    assert _ref(operation["422"], media_type) in (
        f"#/components/schemas/{validation}",
        f"#/components/schemas/{error}",
    )
    for status in ("400", "413"):
        assert _ref(operation[status], media_type) == f"#/components/schemas/{error}"
    article = schema["paths"]["/articles/{slug}"]["get"]["responses"]["404"]["content"]
    assert list(article) == [media_type]
    example = article[media_type]["examples"]["not_found"]["value"]
    _validate(schema, error, example)
    _validate(schema, error, got["not_found"].json())
    _validate(schema, validation, got["invalid"].json())
    assert not list(_repeated_alternatives(schema))
    if shape != "problem_details":
        assert "ProblemDetail" not in schema["components"]["schemas"]
        assert PROBLEM_MEDIA_TYPE not in str(schema)


def _repeated_alternatives(node: Any) -> Iterator[list[Any]]:
    """Every ``anyOf`` in ``node`` that lists one schema twice."""
    if isinstance(node, list):
        for item in node:
            yield from _repeated_alternatives(item)
    elif isinstance(node, dict):
        alternatives = node.get("anyOf", [])
        if any(alternatives.count(item) > 1 for item in alternatives):
            yield alternatives
        for value in node.values():
            yield from _repeated_alternatives(value)


def _ref(response: dict[str, Any], media_type: str) -> str:
    schema = response["content"][media_type]["schema"]
    refs: list[str] = [item["$ref"] for item in schema.get("anyOf", [schema])]
    return refs[-1]


def _validate(schema: dict[str, Any], name: str, body: Any) -> None:
    """``body`` against the component ``name``, references resolved in the document."""
    component = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    jsonschema_rs.validate(component, body)


class EnvelopeError(BaseModel):
    """A custom shape: ``{"error": {"code": ..., "message": ...}}``."""

    model_config = ConfigDict(extra="forbid")
    error: dict[str, str]


class EnvelopeRenderer(ErrorRenderer):
    media_type = "application/vnd.shop.error+json"
    error_model = EnvelopeError
    validation_model = EnvelopeError

    def body(self, problem: Problem) -> dict[str, Any]:
        message = "; ".join(e.message for e in problem.errors) or problem.detail or problem.title
        return {"error": {"code": problem.code, "message": message}}


async def test_a_custom_renderer_gets_the_typed_error_and_names_its_schema(
    tmp_path: Path,
) -> None:
    app = served(tmp_path, renderer=EnvelopeRenderer())
    async with serve(app) as client:
        response = await client.get("/articles/intro")
        schema = (await client.get("/openapi.json")).json()

    assert response.headers["content-type"] == EnvelopeRenderer.media_type
    assert response.json() == {
        "error": {"code": "not_found", "message": response.json()["error"]["message"]}
    }
    content = schema["paths"]["/articles/{slug}"]["get"]["responses"]["404"]["content"]
    assert content[EnvelopeRenderer.media_type]["schema"] == {
        "$ref": "#/components/schemas/EnvelopeError"
    }
    assert isinstance(renderer_of(app), EnvelopeRenderer)


async def test_the_request_id_refusal_uses_the_apps_shape(client_for: Any) -> None:
    app = FastAPI()
    install_error_handlers(app, renderer=FieldErrorsRenderer())
    install_observability(app, reject_invalid_request_id=True, metrics=None)
    async with client_for(app) as client:
        response = await client.get("/nowhere", headers={"x-request-id": "bad id!"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()["errors"]) == ["invalid_request_id"]


def test_an_app_without_handlers_renders_problem_details() -> None:
    assert isinstance(renderer_of(FastAPI()), ProblemDetailsRenderer)


def test_install_error_handlers_takes_a_renderer() -> None:
    app = FastAPI()
    renderer = FastAPIDetailRenderer()
    install_error_handlers(app, renderer=renderer)
    assert renderer_of(app) is renderer


@pytest.mark.parametrize("status", [200, 399, 500, 999])
def test_a_validation_status_must_be_a_client_error(status: int) -> None:
    with pytest.raises(ValueError, match="must be a 4xx status"):
        FieldErrorsRenderer(validation_status=status)


def test_the_base_renderer_has_no_shape_of_its_own() -> None:
    with pytest.raises(NotImplementedError):
        ErrorRenderer().body(Problem(400, "bad_request", "Bad Request"))


def test_field_errors_must_be_field_errors() -> None:
    with pytest.raises(TypeError, match="FieldError"):
        AppError(errors=[{"pointer": "#/body"}])  # type: ignore[list-item]


def test_field_errors_and_an_errors_extension_clash() -> None:
    with pytest.raises(ValueError, match="errors"):
        AppError(extensions={"errors": []}, errors=[FieldError(("body",), "bad")])


def test_an_errors_extension_alone_still_works() -> None:
    assert AppError(extensions={"errors": ["x"]}).extensions == {"errors": ["x"]}


def test_settings_refuse_an_unknown_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        Settings(_env_file=None, errors={"shape": "xml"})


@pytest.mark.parametrize(
    ("renderer", "member"), [(FieldErrorsRenderer(), "errors"), (FastAPIDetailRenderer(), "detail")]
)
def test_extension_members_stay_beside_the_shapes_own_member(
    renderer: ErrorRenderer, member: str
) -> None:
    extensions = {"error": "invalid_grant", member: "an extension cannot replace the shape's"}
    problem = Problem(400, "invalid_grant", "Bad Request", detail="Wrong.", extensions=extensions)

    body = renderer.body(problem)

    assert body["error"] == "invalid_grant"
    assert body[member] != extensions[member]


def test_the_document_names_the_headers_sent_with_401_429_and_503() -> None:
    @declare_problems(ServiceUnavailableError)
    async def upstream() -> None: ...

    app = FastAPI()
    install_error_handlers(app, renderer=FieldErrorsRenderer())

    @app.get("/busy", responses=problem_responses(RateLimitedError, AuthenticationError))
    async def busy(_: None = Depends(upstream)) -> None: ...

    responses = app.openapi()["paths"]["/busy"]["get"]["responses"]

    assert set(responses["429"]["headers"]) == {"Retry-After"}
    assert set(responses["503"]["headers"]) == {"Retry-After"}
    assert set(responses["401"]["headers"]) == {"WWW-Authenticate"}
    assert "headers" not in responses["200"]
