from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import Settings, setup
from fastapi_pro.auth import (
    ACCESS,
    Auth,
    CurrentUser,
    JWKSKeySource,
    Principal,
    Tokens,
    UserLoader,
    principal_from_claims,
    require_roles,
)
from fastapi_pro.db import Base, BigIntPrimaryKey, Database, Repository, Timestamps


class Member(BigIntPrimaryKey, Timestamps, Base):
    __tablename__ = "members"

    subject: Mapped[str] = mapped_column(String(255), unique=True)  # the provider's `sub`
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))


class Members(Repository[Member]):
    async def provision(self, principal: Principal) -> Member:
        """The local user of a verified identity, created the first time it is seen."""
        member = await self.find_one_or_none(subject=principal.subject)
        if member is None:  # INSERT ... ON CONFLICT: two first requests at once both succeed
            profile = {key: principal.claims.get(key) for key in ("email", "name")}
            member = await self.upsert(
                {"subject": principal.subject, **profile}, conflict=["subject"]
            )
        return member


def keycloak_principal(claims: Mapping[str, Any]) -> Principal:
    """Scopes from `scope`, as usual; roles from Keycloak's `realm_access.roles`."""
    realm_access = claims.get("realm_access")
    roles = realm_access.get("roles", []) if isinstance(realm_access, dict) else []
    principal = principal_from_claims(claims)
    return replace(principal, roles=frozenset(role for role in roles if isinstance(role, str)))


def member_loader(database: Database) -> UserLoader:
    async def load_member(principal: Principal) -> Member:
        async with database.session() as session:
            return await Members(session).provision(principal)

    return load_member


def create_app(settings: Settings | None = None, jwks: JWKSKeySource | None = None) -> FastAPI:
    settings = settings or Settings()  # FASTAPI_PRO_AUTH__ISSUER and FASTAPI_PRO_AUTH__AUDIENCE
    issuer = settings.auth.issuer
    if issuer is None:
        msg = "Set FASTAPI_PRO_AUTH__ISSUER to the provider's issuer URL."
        raise ValueError(msg)
    jwks = jwks or JWKSKeySource(f"{issuer}/protocol/openid-connect/certs")
    tokens = Tokens(
        None,  # this service issues no tokens of its own
        verify_with=jwks,
        issuer=issuer,
        audience=settings.auth.audience,
        access_types={"JWT", ACCESS},  # most providers send typ "JWT"
        to_principal=keycloak_principal,
    )
    database = Database.from_settings(settings.database)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await jwks.aclose()

    app = FastAPI(lifespan=lifespan)
    setup(app, settings, database=database, auth=Auth(tokens, user_loader=member_loader(database)))

    @app.get("/me")
    async def me(member: CurrentUser[Member]) -> dict[str, Any]:
        return {"id": member.id, "email": member.email, "name": member.name}

    @app.get("/invoices", dependencies=[require_roles("accountant")])
    async def invoices() -> list[dict[str, Any]]:
        return []

    return app
