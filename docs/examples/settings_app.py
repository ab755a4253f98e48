from fastapi import FastAPI

from fastapi_pro import Settings
from fastapi_pro.errors import install_error_handlers

settings = Settings()  # reads FASTAPI_PRO_* variables and ./.env

app = FastAPI()
install_error_handlers(
    app,
    request_id_header=settings.observability.request_id_header,
    type_base_uri=settings.errors.type_base_uri,
    include_validation_input=settings.errors.include_validation_input,
)
