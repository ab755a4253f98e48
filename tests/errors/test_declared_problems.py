"""Problems declared on dependencies appear on every operation that uses them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Security
from pydantic import BaseModel

from fastapi_pro.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
    declare_problems,
    install_error_handlers,
    problem_responses,
)
from tests.conftest import ClientFactory

PROBLEM = {"$ref": "#/components/schemas/ProblemDetail"}
VALIDATION = {"$ref": "#/components/schemas/ValidationProblemDetail"}


class TenantMissingError(NotFoundError):
    code = "tenant_missing"


class TenantSuspendedError(ConflictError):
    code = "tenant_suspended"


class ValueRefusedError(UnprocessableEntityError):
    code = "value_refused"


class ScopeMissingError(PermissionDeniedError):
    code = "scope_missing"


@declare_problems(TenantMissingError, TenantSuspendedError)
async def tenant() -> str:
    return "acme"


@declare_problems(ValueRefusedError)
async def unit_of_work(current: Annotated[str, Depends(tenant)]) -> str:
    return current


@declare_problems(scoped=[ScopeMissingError])
async def caller() -> str:
    return "alice"


class Item(BaseModel):
    name: str


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(prefix="/tenants", dependencies=[Depends(tenant)])

    @router.get("/{slug}")
    async def read(slug: str) -> str:
        return slug

    @app.post("/items", responses=problem_responses(TenantMissingError, BadRequestError))
    async def create(item: Item, work: Annotated[str, Depends(unit_of_work)]) -> Item:
        return item

    @app.get("/open")
    async def open_route(who: Annotated[str, Security(caller)]) -> str:
        return who

    @app.get("/guarded")
    async def guarded(who: Annotated[str, Security(caller, scopes=["items:read"])]) -> str:
        return who

    app.include_router(router)
    return app


def responses(path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = make_app().openapi()["paths"][path][method]
    return operation["responses"]  # type: ignore[no-any-return]


def examples(entry: dict[str, Any]) -> set[str]:
    return set(entry["content"][PROBLEM_MEDIA_TYPE]["examples"])


def test_a_router_dependency_documents_its_problems_on_each_route() -> None:
    documented = responses("/tenants/{slug}", "get")

    assert examples(documented["404"]) == {"tenant_missing"}
    assert examples(documented["409"]) == {"tenant_suspended"}
    assert documented["404"]["content"][PROBLEM_MEDIA_TYPE]["schema"] == PROBLEM


def test_problems_of_nested_dependencies_merge_with_the_routes_own() -> None:
    documented = responses("/items", "post")

    assert examples(documented["404"]) == {"tenant_missing"}  # declared twice, listed once
    assert examples(documented["409"]) == {"tenant_suspended"}
    assert "bad_request" in examples(documented["400"])


def test_a_422_that_is_not_a_validation_problem_widens_the_documented_schema() -> None:
    media = responses("/items", "post")["422"]["content"][PROBLEM_MEDIA_TYPE]

    assert media["schema"] == {"anyOf": [VALIDATION, PROBLEM]}
    assert "value_refused" in media["examples"]


def test_scoped_problems_appear_only_where_scopes_are_required() -> None:
    assert "403" not in responses("/open", "get")
    assert examples(responses("/guarded", "get")["403"]) == {"scope_missing"}


def test_operations_with_a_body_document_a_413() -> None:
    assert responses("/items", "post")["413"]["content"][PROBLEM_MEDIA_TYPE]["schema"] == PROBLEM
    assert "413" not in responses("/open", "get")


def test_documenting_is_idempotent() -> None:
    app = make_app()

    assert app.openapi() == app.openapi()


async def test_the_declared_problem_is_what_the_route_sends(client_for: ClientFactory) -> None:
    app = make_app()

    @app.get("/missing", dependencies=[Depends(declare_problems(TenantMissingError)(missing))])
    async def read_missing() -> None: ...

    async with client_for(app) as client:
        response = await client.get("/missing")

    documented = app.openapi()["paths"]["/missing"]["get"]["responses"]
    assert response.status_code == 404
    assert response.json()["code"] in examples(documented["404"])


async def missing() -> None:
    raise TenantMissingError
