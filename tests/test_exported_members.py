"""Pin the public surface: a name added or removed here is an API change."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import fastapi_pro

PUBLIC = {
    "fastapi_pro": ["Components", "Settings", "__version__", "setup"],
    "fastapi_pro.app": ["Components", "Switches", "setup"],
    "fastapi_pro.auth": [
        "ACCESS",
        "REFRESH",
        "ApiKeyOrBearer",
        "ApiKeyRecord",
        "ApiKeyStore",
        "ApiKeys",
        "Auth",
        "AuthMethod",
        "CurrentPrincipal",
        "CurrentUser",
        "InMemoryApiKeyStore",
        "InMemoryTokenStore",
        "InsufficientScopeError",
        "InvalidApiKeyError",
        "InvalidTokenError",
        "JWKSError",
        "JWKSKeySource",
        "JsonLogin",
        "Key",
        "KeyConfigError",
        "KeyRing",
        "KeySource",
        "MissingCredentialsError",
        "OptionalPrincipal",
        "OptionalUser",
        "PasswordHasher",
        "Principal",
        "PrincipalReloader",
        "RedisTokenStore",
        "RequestSession",
        "RotationResult",
        "SqlTokenStore",
        "TokenPair",
        "TokenResponse",
        "TokenStore",
        "TokenStoreUnavailableError",
        "Tokens",
        "UserLoader",
        "api_key_or_bearer_principal",
        "bearer_challenge",
        "current_principal",
        "current_user",
        "enforce_grants",
        "optional_principal",
        "optional_user",
        "password_flow_router",
        "principal_from_claims",
        "require_roles",
        "require_scopes",
        "verified_principal",
    ],
    "fastapi_pro.cli": ["CommandError", "build_parser", "main"],
    "fastapi_pro.db": [
        "INCLUDE_DELETED",
        "NAMING_CONVENTION",
        "Base",
        "BigIntPrimaryKey",
        "CountStrategy",
        "CursorPage",
        "CursorParams",
        "Database",
        "DatabaseUnavailableError",
        "ForeignKeyViolationError",
        "IntegrityViolationError",
        "InvalidCursorError",
        "InvalidSortError",
        "InvalidValueError",
        "Page",
        "PageParams",
        "PageParamsDep",
        "PoolListener",
        "ReadConnectionDep",
        "ReadRepository",
        "Repository",
        "SessionDep",
        "SoftDelete",
        "SortField",
        "StaleVersionError",
        "Timestamps",
        "TransactionConflictError",
        "UTCDateTime",
        "UUIDPrimaryKey",
        "UniqueViolationError",
        "Versioned",
        "alembic_render_item",
        "apply_sort",
        "async_url",
        "cursor_params",
        "get_read_connection",
        "get_session",
        "only_database",
        "page_params",
        "paginate",
        "paginate_cursor",
        "parse_sort",
        "retry_transaction",
        "sort_params",
        "translate_error",
        "utcnow",
        "uuid7",
    ],
    "fastapi_pro.errors": [
        "DEFAULT_CHALLENGE",
        "PROBLEM_MEDIA_TYPE",
        "AppError",
        "AuthenticationError",
        "BadRequestError",
        "ConflictError",
        "DetailBody",
        "DetailErrorItem",
        "DetailValidationBody",
        "ErrorRenderer",
        "FastAPIDetailRenderer",
        "FieldError",
        "FieldErrorsBody",
        "FieldErrorsRenderer",
        "NotFoundError",
        "PermissionDeniedError",
        "PreconditionFailedError",
        "Problem",
        "ProblemDetail",
        "ProblemDetailsRenderer",
        "ProblemResponse",
        "RateLimitedError",
        "ServiceUnavailableError",
        "UnprocessableEntityError",
        "ValidationErrorItem",
        "ValidationProblemDetail",
        "declare_problems",
        "document_declared_problems",
        "dotted_field",
        "install_error_handlers",
        "problem_responses",
        "quote_input",
        "renderer_of",
        "rewrite_openapi",
    ],
    "fastapi_pro.health": [
        "HEALTH_MEDIA_TYPE",
        "Check",
        "CheckResult",
        "ComponentReport",
        "Health",
        "HealthReport",
        "HealthResponse",
        "Status",
        "SupportsPing",
        "database_check",
        "redis_check",
    ],
    "fastapi_pro.idempotency": [
        "DEFAULT_TABLE",
        "REPLAY_HEADERS",
        "Idempotency",
        "IdempotencyKeyInUseError",
        "IdempotencyKeyMissingError",
        "IdempotencyKeyReusedError",
        "IdempotencyNotInstalledError",
        "IdempotencyOptions",
        "IdempotentRoute",
        "Identify",
        "InvalidIdempotencyKeyError",
        "check_idempotent_routes",
        "create_idempotency_table",
        "fingerprint",
        "idempotency_table",
        "idempotent",
        "parse_key",
        "purge_expired",
    ],
    "fastapi_pro.ratelimit": [
        "STRATEGIES",
        "KeyFunc",
        "LoginLimits",
        "Policy",
        "Quota",
        "RateLimit",
        "RateLimitHeadersMiddleware",
        "RateLimiter",
        "TrustedProxies",
        "memory_storage",
        "parse_policy",
        "redis_storage",
        "route_template",
    ],
    "fastapi_pro.security_headers": [
        "API_CONTENT_SECURITY_POLICY",
        "DOCS_CONTENT_SECURITY_POLICY",
        "DOCS_PATHS",
        "SELF_HOSTED_DOCS_CONTENT_SECURITY_POLICY",
        "SecurityHeadersMiddleware",
        "install_security_headers",
    ],
    "fastapi_pro.self_hosted_docs": [
        "ASSETS_PATH_PATTERN",
        "ASSETS_ROUTE_NAME",
        "FAVICON",
        "REDOC_FILES",
        "SWAGGER_UI_FILES",
        "install_self_hosted_docs",
    ],
    "fastapi_pro.observability": [
        "CONTEXT_KEYS",
        "DEFAULT_SKIP_PATHS",
        "DURATION_BUCKETS",
        "GLOBAL",
        "LABELS",
        "REQUEST_ID_ATTRIBUTE",
        "SIZE_BUCKETS",
        "UNMATCHED",
        "HttpMetrics",
        "InterceptHandler",
        "Metrics",
        "ObservabilityMiddleware",
        "RouteTemplates",
        "access_log_through_loguru",
        "add_log_context",
        "configure_logging",
        "configure_tracing",
        "install_observability",
        "instrument_database",
        "json_sink",
        "normalize_method",
        "tracer_provider_of",
        "write_access_log",
    ],
    "fastapi_pro.settings": [
        "API_CONTENT_SECURITY_POLICY",
        "DEFAULT_MAX_BODY_SIZE",
        "DOCS_CONTENT_SECURITY_POLICY",
        "MIN_HMAC_KEY_BYTES",
        "AuthSettings",
        "CorsSettings",
        "DatabaseSettings",
        "DocsSettings",
        "Duration",
        "ErrorSettings",
        "HealthSettings",
        "IdempotencySettings",
        "JWTAlgorithm",
        "ObservabilitySettings",
        "RateLimitSettings",
        "RateLimitStrategy",
        "RedisSettings",
        "SecurityHeadersSettings",
        "Settings",
    ],
    "fastapi_pro.testing": [
        "ActAs",
        "CapturedLogs",
        "CapturedMetrics",
        "CapturedSpans",
        "LogRecord",
        "MissingExtraError",
        "QueryCounter",
        "TokenFactory",
        "assert_problem",
        "build_app",
        "isolated",
        "load_target",
        "run_app",
        "served_app",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_pinned_sorted_and_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)

    assert module.__all__ == PUBLIC[module_name]
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for name in module.__all__:
        member = getattr(module, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__doc__, f"{module_name}.{name} has no docstring"


NOT_PINNED = {
    "fastapi_pro.__about__": "the version, re-exported as fastapi_pro.__version__",
    "fastapi_pro.cli.__main__": "runs the command: python -m fastapi_pro.cli",
    "fastapi_pro.testing.plugin": "the pytest11 entry point: hooks and fixtures, no importable API",
}


def test_every_public_module_is_pinned() -> None:
    """A module whose dotted path has no ``_name`` part is public API, so its `__all__` is here."""
    src = Path(fastapi_pro.__file__).parent.parent
    public = {
        ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        for path in (src / "fastapi_pro").rglob("*.py")
    }
    public = {
        name for name in public if not any(part.startswith("_") for part in name.split(".")[1:])
    }
    assert public - set(NOT_PINNED) == set(PUBLIC)


def test_version_is_a_string() -> None:
    assert isinstance(fastapi_pro.__version__, str)
    assert fastapi_pro.__version__[0].isdigit()


def test_import_starts_no_threads() -> None:
    code = (
        "import threading, fastapi_pro, fastapi_pro.errors, fastapi_pro.settings, fastapi_pro.db,"
        "fastapi_pro.auth, fastapi_pro.observability, fastapi_pro.health;"
        "print(threading.active_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_import_loads_neither_fastapi_nor_pydantic_settings() -> None:
    code = (
        "import sys, fastapi_pro;"
        "print(sorted(m for m in ('fastapi', 'pydantic_settings') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_facade_names_load_on_first_use() -> None:
    from fastapi_pro.app import Components, setup  # noqa: PLC0415
    from fastapi_pro.settings import Settings  # noqa: PLC0415

    assert fastapi_pro.setup is setup
    assert fastapi_pro.Components is Components
    assert fastapi_pro.Settings is Settings
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        fastapi_pro.nothing  # noqa: B018


def test_auth_imports_without_its_optional_extras() -> None:
    code = (
        "import sys; sys.modules['redis'] = None; sys.modules['httpx'] = None;"
        "import fastapi_pro.auth as auth; print(len(auth.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > 30
