"""The response format of draft-inadarei-api-health-check, its media type and response class."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.responses import JSONResponse

HEALTH_MEDIA_TYPE = "application/health+json"
"""The media type of health responses (draft-inadarei-api-health-check)."""

Status = Literal["pass", "warn", "fail"]
"""The status of one component, or of the whole service."""


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class ComponentReport(_Body):
    """One measurement of one component, listed under ``checks`` as ``"<name>:responseTime"``."""

    component_type: str
    status: Status
    observed_value: float
    observed_unit: str = "ms"
    time: datetime
    output: str | None = None


class HealthReport(_Body):
    """A health response body: ``fail`` is served with 503, ``pass`` and ``warn`` with 200."""

    status: Status
    version: str | None = None
    service_id: str | None = None
    description: str | None = None
    output: str | None = None
    checks: dict[str, list[ComponentReport]] | None = None

    @property
    def status_code(self) -> int:
        """The HTTP status this report is served with."""
        return 503 if self.status == "fail" else 200


class HealthResponse(JSONResponse):
    """A `HealthReport` served as ``application/health+json`` with ``Cache-Control: no-store``."""

    media_type = HEALTH_MEDIA_TYPE

    def __init__(self, report: HealthReport) -> None:
        super().__init__(
            report, status_code=report.status_code, headers={"Cache-Control": "no-store"}
        )

    def render(self, content: Any) -> bytes:
        """Serialise the report with the draft's camelCase member names, leaving out nulls."""
        assert isinstance(content, HealthReport)  # noqa: S101 - the constructor takes only these
        return content.model_dump_json(by_alias=True, exclude_none=True).encode()
