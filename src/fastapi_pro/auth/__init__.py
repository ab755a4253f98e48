"""Auth: JWTs, external identity providers, passwords, refresh rotation, API keys, dependencies.

```python
from fastapi_pro.auth import Auth, CurrentUser, Key, KeyRing, Tokens

auth = Auth(Tokens(KeyRing(Key.hmac(secret))), user_loader=load_user)
auth.install(app)


@app.get("/me")
async def me(user: CurrentUser[User]) -> UserOut: ...
```

`RedisTokenStore` (extra ``redis``), `SqlTokenStore` and `JWKSKeySource` (extra ``oidc``) are
imported on first use, so a missing optional dependency never breaks ``import fastapi_pro.auth``.
"""

from typing import TYPE_CHECKING, Any

from fastapi_pro.auth._api_keys import ApiKeyRecord, ApiKeys, ApiKeyStore, InMemoryApiKeyStore
from fastapi_pro.auth._auth import (
    Auth,
    PrincipalReloader,
    RequestSession,
    TokenPair,
    UserLoader,
)
from fastapi_pro.auth._dependencies import (
    ApiKeyOrBearer,
    CurrentPrincipal,
    CurrentUser,
    OptionalPrincipal,
    OptionalUser,
    api_key_or_bearer_principal,
    current_principal,
    current_user,
    enforce_grants,
    optional_principal,
    optional_user,
    require_roles,
    require_scopes,
    verified_principal,
)
from fastapi_pro.auth._errors import (
    InsufficientScopeError,
    InvalidApiKeyError,
    InvalidTokenError,
    MissingCredentialsError,
    TokenStoreUnavailableError,
    bearer_challenge,
)
from fastapi_pro.auth._json_login import JsonLogin
from fastapi_pro.auth._keys import Key, KeyConfigError, KeyRing, KeySource
from fastapi_pro.auth._passwords import PasswordHasher
from fastapi_pro.auth._principal import AuthMethod, Principal
from fastapi_pro.auth._router import TokenResponse, password_flow_router
from fastapi_pro.auth._store import InMemoryTokenStore, RotationResult, TokenStore
from fastapi_pro.auth._tokens import ACCESS, REFRESH, Tokens, principal_from_claims

if TYPE_CHECKING:
    from fastapi_pro.auth._jwks import JWKSError, JWKSKeySource
    from fastapi_pro.auth._redis_store import RedisTokenStore
    from fastapi_pro.auth._sql_store import SqlTokenStore

_LAZY = {
    "JWKSError": "fastapi_pro.auth._jwks",
    "JWKSKeySource": "fastapi_pro.auth._jwks",
    "RedisTokenStore": "fastapi_pro.auth._redis_store",
    "SqlTokenStore": "fastapi_pro.auth._sql_store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415 - optional extras load on first use only

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'fastapi_pro.auth' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
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
]
