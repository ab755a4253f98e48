from fastapi import FastAPI

from fastapi_pro.auth import ACCESS, Auth, CurrentPrincipal, JWKSKeySource, Tokens
from fastapi_pro.errors import install_error_handlers

ISSUER = "https://sso.example.com/realms/shop"


def create_app(jwks: JWKSKeySource) -> FastAPI:
    # Keycloak, Auth0 and Entra sign access tokens with keys published at their JWKS URL,
    # e.g. JWKSKeySource(f"{ISSUER}/protocol/openid-connect/certs"), or discover it with
    # await JWKSKeySource.from_issuer(ISSUER).
    tokens = Tokens(
        None,  # this service issues no tokens of its own
        verify_with=jwks,
        issuer=ISSUER,
        audience="orders",
        access_types={"JWT", ACCESS},  # most providers send typ "JWT"
    )
    app = FastAPI()
    install_error_handlers(app)
    Auth(tokens).install(app)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, object]:
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    return app
