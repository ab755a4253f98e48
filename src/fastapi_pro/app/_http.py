"""The blocks at the HTTP edge: the body limit, error handlers, docs pages, CORS, headers."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from fastapi_pro._shared.stack import wrap_stack
from fastapi_pro._shared.state import SECURITY_HEADERS, SELF_HOSTED_DOCS
from fastapi_pro.app._wiring import Block, Wiring
from fastapi_pro.errors import (
    ErrorRenderer,
    FastAPIDetailRenderer,
    FieldErrorsRenderer,
    ProblemDetailsRenderer,
    install_error_handlers,
)
from fastapi_pro.security_headers import (
    DOCS_CONTENT_SECURITY_POLICY,
    SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY,
    install_security_headers,
)
from fastapi_pro.self_hosted_docs import install_self_hosted_docs
from fastapi_pro.settings import Settings


class BodyLimitBlock(Block):
    """Request bodies limited to ``max_body_size``, unless the app has a limit of its own."""

    def install(self, wiring: Wiring) -> None:
        """Set FastAPI's ``max_body_size``; routers and routes may still set theirs."""
        if wiring.app.max_body_size is None:
            wiring.app.max_body_size = wiring.settings.max_body_size


class ErrorsBlock(Block):
    """The error handlers, rendering in the shape of ``errors.shape`` or the given renderer."""

    def install(self, wiring: Wiring) -> None:
        """Install the handlers with the ``errors`` settings."""
        chosen = wiring.options.errors
        if chosen is False:
            return
        settings = wiring.settings
        install_error_handlers(
            wiring.app,
            request_id_header=settings.observability.request_id_header,
            type_base_uri=settings.errors.type_base_uri,
            include_validation_input=settings.errors.include_validation_input,
            renderer=chosen if isinstance(chosen, ErrorRenderer) else _renderer(settings),
        )


_SHAPES: dict[str, type[ErrorRenderer]] = {
    "problem_details": ProblemDetailsRenderer,
    "field_errors": FieldErrorsRenderer,
    "fastapi_detail": FastAPIDetailRenderer,
}


def _renderer(settings: Settings) -> ErrorRenderer:
    """The renderer ``errors.shape`` names, with ``errors.validation_status``."""
    errors = settings.errors
    return _SHAPES[errors.shape](validation_status=errors.validation_status)


class DocsBlock(Block):
    """Swagger UI and ReDoc with their assets served by the app, when ``docs.self_hosted``."""

    def check(self, wiring: Wiring) -> None:
        """Refuse an app whose self-hosted docs were installed by hand."""
        if wiring.settings.docs.self_hosted and SELF_HOSTED_DOCS.is_set(wiring.app):
            msg = (
                "install_self_hosted_docs() was already called on this app; setup() installs "
                "it too when docs.self_hosted is set. Remove that call, or unset the setting."
            )
            raise RuntimeError(msg)

    def install(self, wiring: Wiring) -> None:
        """Serve the docs pages' assets from ``docs.assets_directory``."""
        docs = wiring.settings.docs
        if docs.self_hosted:
            install_self_hosted_docs(
                wiring.app, path=docs.assets_path, directory=docs.assets_directory
            )


class CorsBlock(Block):
    """Starlette's CORS middleware, when ``cors.allow_origins`` is not empty."""

    def install(self, wiring: Wiring) -> None:
        """Wrap the stack, so the 500s Starlette's error middleware sends get the headers too."""
        settings = wiring.settings
        if wiring.options.cors and settings.cors.allow_origins:
            wrap_stack(wiring.app, lambda inner: _cors(inner, settings))


class SecurityHeadersBlock(Block):
    """The security headers of ``settings.security_headers``."""

    def check(self, wiring: Wiring) -> None:
        """Refuse an app whose headers were installed by hand."""
        if wiring.options.security_headers:
            wiring.refuse_installed(SECURITY_HEADERS, "security_headers")

    def install(self, wiring: Wiring) -> None:
        """Install the headers when ``security_headers.enabled``."""
        secure = wiring.settings.security_headers
        if not (wiring.options.security_headers and secure.enabled):
            return
        install_security_headers(
            wiring.app,
            frame_options=secure.frame_options,
            referrer_policy=secure.referrer_policy,
            content_security_policy=secure.content_security_policy,
            docs_content_security_policy=_docs_policy(wiring.settings),
            hsts_max_age=secure.hsts_max_age if secure.hsts_enabled else None,
            hsts_include_subdomains=secure.hsts_include_subdomains,
            hsts_preload=secure.hsts_preload,
        )


def _docs_policy(settings: Settings) -> str | None:
    """The docs pages' policy: the default one loses the CDNs when the app serves the assets."""
    policy = settings.security_headers.docs_content_security_policy
    if settings.docs.self_hosted and policy == DOCS_CONTENT_SECURITY_POLICY:
        return SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY
    return policy


def _cors(app: ASGIApp, settings: Settings) -> ASGIApp:
    """CORS that lets browsers send and read the request id header."""
    config = settings.cors
    request_id = settings.observability.request_id_header

    def with_request_id(headers: list[str]) -> list[str]:
        known = {header.lower() for header in headers}
        return headers if request_id.lower() in known else [*headers, request_id]

    return CORSMiddleware(
        app,
        allow_origins=config.allow_origins,
        allow_credentials=config.allow_credentials,
        allow_methods=config.allow_methods,
        allow_headers=with_request_id(config.allow_headers),
        expose_headers=with_request_id(config.expose_headers),
        max_age=config.max_age,
    )
