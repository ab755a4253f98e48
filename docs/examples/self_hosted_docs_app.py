from fastapi import FastAPI

from fastapi_pro.self_hosted_docs import install_self_hosted_docs

app = FastAPI(title="Inventory", swagger_ui_parameters={"tryItOutEnabled": True})


@app.get("/items", summary="List the items")
async def list_items() -> list[str]:
    return ["bolt", "nut"]


# /docs and /redoc now load Swagger UI and ReDoc from /docs/assets, not from a CDN.
install_self_hosted_docs(app)
