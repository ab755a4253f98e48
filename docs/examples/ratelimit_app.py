"""Rate limits on a search API: per caller and route, with a cheaper and a dearer route."""

from fastapi import APIRouter, Depends, FastAPI
from starlette.requests import Request

from fastapi_pro.errors import install_error_handlers
from fastapi_pro.ratelimit import RateLimit, RateLimiter

app = FastAPI()
install_error_handlers(app)
RateLimiter(trusted_proxies=["10.0.0.0/8"]).install(app)

# Every route of the router: 10 requests a second and 500 an hour, per caller and route.
api = APIRouter(prefix="/api", dependencies=[Depends(RateLimit("10/second", "500/hour"))])


@api.get("/search")
async def search(q: str) -> dict[str, list[str]]:
    return {"hits": [q]}


# An export spends 50 units of a quota of its own at once.
@api.post("/exports", dependencies=[Depends(RateLimit("100/hour", cost=50))])
async def export() -> dict[str, str]:
    return {"status": "queued"}


async def tenant(request: Request) -> str | None:
    """Count per tenant rather than per caller, where the request names one."""
    return request.headers.get("X-Tenant")


@api.get("/reports", dependencies=[Depends(RateLimit("2/minute", key=tenant))])
async def reports() -> dict[str, int]:
    return {"reports": 0}


app.include_router(api)
