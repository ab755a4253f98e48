import shutil

from fastapi import FastAPI

from fastapi_pro.db import Database
from fastapi_pro.health import CheckResult, Health, database_check
from fastapi_pro.settings import Settings

settings = Settings()
db = Database.from_settings(settings.database)

health = Health.from_settings(settings.health, version="1.0.0", service_id="orders")
health.add("database", database_check(db))  # critical: without it, stop sending traffic here

MIN_FREE_BYTES = 500_000_000


async def disk_space() -> CheckResult:
    free = shutil.disk_usage(".").free
    if free < MIN_FREE_BYTES:
        return CheckResult("warn", "less than 500 MB free")
    return CheckResult("pass")


health.add("disk", disk_space, critical=False, component_type="system")

app = FastAPI(lifespan=db.lifespan)
health.install(app)  # GET /health/live, /health/ready and /health/startup
