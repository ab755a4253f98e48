"""What the settings sections share: limits, durations, policies and the section base."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

MIN_HMAC_KEY_BYTES = 32
"""HMAC signing keys shorter than this are refused (RFC 7518 §3.2 for HS256)."""

DEFAULT_MAX_BODY_SIZE = 1_048_576
"""1 MiB: the request body limit `setup` applies unless the app or a route sets its own."""

JWTAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]
"""The JSON Web Signature algorithms fastapi-pro signs and verifies with."""


def _seconds(value: object) -> object:
    """Read ``"600"`` or ``"1.5"`` (as environment variables are) as seconds."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # an ISO 8601 duration or HH:MM:SS, for pydantic
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]
"""A duration given in seconds (``600``), as ISO 8601 (``PT10M``) or as ``HH:MM:SS``."""


API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""The policy of API responses: a JSON body needs no scripts, styles or frames."""

DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https:; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""The policy of FastAPI's Swagger UI and ReDoc pages: their assets come from public CDNs, and
Swagger UI starts from an inline script."""


class _Section(BaseModel):
    """A settings section: its validation errors never repeat the values (keys, URLs)."""

    model_config = ConfigDict(hide_input_in_errors=True)
