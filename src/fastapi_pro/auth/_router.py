"""An optional OAuth2 password-flow router: token, refresh and logout endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from fastapi_pro._shared.state import LOGIN_GUARD
from fastapi_pro.auth._auth import Auth, TokenPair
from fastapi_pro.auth._dependencies import CurrentPrincipal
from fastapi_pro.auth._errors import InvalidTokenError, TokenStoreUnavailableError
from fastapi_pro.auth._json_login import JsonLogin
from fastapi_pro.auth._principal import Principal
from fastapi_pro.errors import (
    AppError,
    BadRequestError,
    RateLimitedError,
    ServiceUnavailableError,
    problem_responses,
    quote_input,
)

Authenticate = Callable[[str, str], Awaitable[Principal | None]]
"""``async (identifier, password) -> Principal | None``: the app checks credentials."""

MAX_FORM_BYTES = 8192
_MAX_FORM_FIELDS = 10


class TokenResponse(BaseModel):
    """An OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    scope: str | None = None


class RefreshTokenBody(BaseModel):
    """A refresh token sent as JSON."""

    refresh_token: str = Field(max_length=8192)


class OAuthError(BadRequestError):
    """An OAuth2 token-endpoint error (RFC 6749 §5.2), as a 400 problem with an ``error`` member."""

    code = "invalid_grant"

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description, code=error, extensions={"error": error})


def _grant(title: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "required": required,
        "properties": properties,
        "maxProperties": _MAX_FORM_FIELDS,
    }


_PASSWORD_GRANT = _grant(
    "Password grant",
    ["username", "password"],
    {
        "grant_type": {"type": "string", "enum": ["password"], "default": "password"},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "format": "password", "minLength": 1},
        "scope": {"type": "string", "description": "Space-separated scopes to narrow to."},
    },
)
_REFRESH_GRANT = _grant(
    "Refresh token grant",
    ["grant_type", "refresh_token"],
    {
        "grant_type": {"type": "string", "enum": ["refresh_token"]},
        "refresh_token": {"type": "string", "minLength": 1},
    },
)
_FORM = {
    "application/x-www-form-urlencoded": {"schema": {"anyOf": [_PASSWORD_GRANT, _REFRESH_GRANT]}}
}


def _request_body(json_login: JsonLogin | None) -> dict[str, Any]:
    """The token endpoint's OpenAPI request body: the form, and the JSON login if accepted."""
    content: dict[str, Any] = dict(_FORM)
    description = f"An OAuth2 token request form, at most {MAX_FORM_BYTES} bytes."
    if json_login is not None:
        content["application/json"] = {"schema": json_login.schema()}
        description = (
            f"An OAuth2 token request form or a JSON login, at most {MAX_FORM_BYTES} bytes."
        )
    return {"requestBody": {"required": True, "description": description, "content": content}}


async def _body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # stop reading past the limit: never buffer a flood
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "The request body is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode(), max_num_fields=_MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError) as error:
        raise OAuthError("invalid_request", "The request body is not a valid form.") from error


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() == "application/json"


async def _fields(request: Request, json_login: JsonLogin | None) -> dict[str, str]:
    """The token request's fields: a JSON login when one is sent and accepted, else the form."""
    body = await _body(request)
    if json_login is None or not _is_json(request):
        return _form(body)
    try:
        return json_login.credentials(body)
    except ValueError as error:
        raise OAuthError("invalid_request", str(error)) from error


def _response(pair: TokenPair, principal: Principal) -> TokenResponse:
    scope = " ".join(sorted(principal.scopes)) or None
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        scope=scope,
    )


async def _answer(auth: Auth, form: dict[str, str], authenticate: Authenticate) -> TokenResponse:
    """Answer a token request: a refresh, or a password grant."""
    grant = form.get("grant_type", "password")
    if grant == "refresh_token":
        try:
            pair = await auth.refresh(form.get("refresh_token", ""))
        except InvalidTokenError as error:
            raise OAuthError("invalid_grant", "The refresh token is invalid.") from error
        return TokenResponse(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        )
    if grant != "password":
        raise OAuthError(
            "unsupported_grant_type", f"grant_type {quote_input(grant)} is not supported."
        )
    return await _password_grant(auth, form, authenticate)


async def _password_grant(
    auth: Auth, form: dict[str, str], authenticate: Authenticate
) -> TokenResponse:
    username, password = form.get("username"), form.get("password")
    if not username or not password:
        raise OAuthError("invalid_request", "username and password are required.")
    principal = await authenticate(username, password)
    if principal is None:
        raise OAuthError("invalid_grant", "The username or password is wrong.")
    requested = set(form.get("scope", "").split())
    if requested:
        principal = replace(principal, scopes=principal.scopes & requested)
    return _response(await auth.login(principal), principal)


async def _guard(request: Request, form: dict[str, str]) -> None:
    """Let the app's login guard (a `RateLimiter`'s login limits) refuse the attempt.

    It runs before any credential is checked, so its answer is the same whether the named
    account exists or not. Without a guard on the app, nothing is limited.
    """
    guard = LOGIN_GUARD.find(request)
    if guard is not None:
        password_grant = form.get("grant_type", "password") == "password"
        await guard.check(request, form.get("username") if password_grant else None)


def _token_endpoint(
    authenticate: Authenticate, json_login: JsonLogin | None
) -> Callable[[Request], Awaitable[TokenResponse]]:
    """The ``/token`` endpoint: password and refresh grants; refusals go to the listeners."""

    async def token(request: Request) -> TokenResponse:
        auth = Auth.of(request)
        try:
            form = await _fields(request, json_login)
            await _guard(request, form)
            return await _answer(auth, form, authenticate)
        except (OAuthError, RateLimitedError) as error:
            auth.refused(error)
            raise

    return token


def _post(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Awaitable[Any]],
    *problems: type[AppError],
    **options: Any,
) -> None:
    """Add ``POST path``, named after the path, with the problems it may answer documented."""
    name = path.strip("/").replace("-", "_")
    responses = problem_responses(*problems)
    router.add_api_route(
        path, endpoint, methods=["POST"], name=name, responses=responses, **options
    )


# The endpoints carry no docstring: it would become their OpenAPI description.
async def _logout(request: Request, body: RefreshTokenBody) -> None:
    auth = Auth.of(request)
    try:
        await auth.logout(body.refresh_token)
    except InvalidTokenError as error:
        auth.refused(error)
        raise


async def _logout_all(request: Request, principal: CurrentPrincipal) -> None:
    auth = Auth.of(request)
    await auth.logout_everywhere(principal.subject)
    await auth.revoke_access_token(principal)


def password_flow_router(
    authenticate: Authenticate, *, prefix: str = "/auth", json_login: JsonLogin | None = None
) -> APIRouter:
    """Build ``POST {prefix}/token``, ``/logout`` and ``/logout-all``.

    ``/token`` takes an OAuth2 form: ``grant_type=password`` (default) with ``username``,
    ``password`` and an optional ``scope`` narrowing the granted scopes, or
    ``grant_type=refresh_token`` with ``refresh_token`` (rotation with reuse detection). Give
    ``token_url=f"{prefix}/token"`` to `Auth.install` so Swagger UI's Authorize button uses it.

    On an app with a `fastapi_pro.ratelimit.RateLimiter` (its login limits on, the default),
    ``/token`` counts each request per client address, and a password grant per username too,
    before any password is checked: past a limit it answers a 429 problem with
    ``Retry-After``, the same for an account that exists and one that does not. Without a
    limiter, nothing is limited.

    Args:
        authenticate: Checks an identifier and password and returns the `Principal` to issue
            tokens for, or ``None``. Use `PasswordHasher.verify_dummy` for unknown users.
        prefix: Where the routes live.
        json_login: Also accept a JSON login body of this shape (``Content-Type:
            application/json``) on the same endpoint; the form keeps working beside it.
    """
    router = APIRouter(prefix=prefix, tags=["auth"])
    token = _token_endpoint(authenticate, json_login)
    # The login limits' 429, and their 503 when the limiter fails closed: documented whether
    # or not the app has a limiter, as the contract should not change with a deployment.
    problems = (OAuthError, RateLimitedError, ServiceUnavailableError, TokenStoreUnavailableError)
    # RFC 6749 §5.1: scope is optional; a token granted no scope says nothing rather than null.
    options = {"openapi_extra": _request_body(json_login), "response_model_exclude_none": True}
    _post(router, "/token", token, *problems, **options)
    _post(
        router, "/logout", _logout, InvalidTokenError, TokenStoreUnavailableError, status_code=204
    )
    _post(router, "/logout-all", _logout_all, TokenStoreUnavailableError, status_code=204)
    return router
