from fastapi import FastAPI

from fastapi_pro import Settings, setup
from fastapi_pro.auth import password_flow_router
from fastapi_pro.db import Base, Database

from bookmarks.accounts import load_user, password_login
from bookmarks.api import router


def create_app() -> FastAPI:
    settings = Settings()  # FASTAPI_PRO_* variables, and .env
    database = Database.from_settings(settings.database)
    app = FastAPI(title="Bookmarks")
    setup(
        app,
        settings,
        database=database,
        user_loader=load_user,  # reads the user in each request's own session
        token_url="/auth/token",
        metadata=Base.metadata,  # creates missing tables at start-up: fine for a first service
    )
    app.include_router(password_flow_router(password_login(database)))
    app.include_router(router)
    return app
