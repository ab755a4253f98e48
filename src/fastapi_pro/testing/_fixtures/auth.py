"""Fixtures of identity: tokens signed with the app's keys, headers, acting as a user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fastapi_pro.testing._auth import ActAs, TokenFactory


@pytest.fixture
def token_factory(fastapi_app: FastAPI) -> TokenFactory:
    """Signs access tokens with the app's keys: ``token_factory("alice", roles=["staff"])``."""
    from fastapi_pro.testing._auth import TokenFactory  # noqa: PLC0415

    return TokenFactory(fastapi_app)


@pytest.fixture
def auth_headers(token_factory: TokenFactory) -> Any:
    """Builds ``Authorization`` headers: ``auth_headers("alice", scopes=["orders:read"])``."""
    return token_factory.headers


@pytest.fixture
def act_as(fastapi_app: FastAPI, _fastapi_pro_overrides: None) -> ActAs:
    """Serve requests as a given user without tokens: ``act_as(user, roles=["staff"])``."""
    from fastapi_pro.testing._auth import ActAs  # noqa: PLC0415

    return ActAs(fastapi_app)
