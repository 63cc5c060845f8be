"""The check of ``<dataDir>/monitoring.json`` (``sidecar.monitoring.service``): a pydantic model, loaded
only when the file exists."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidecar.errors import MonitoringConfigError


class _MonitoringFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)

    retention_days: int = Field(default=90, ge=1, le=3650, alias="retentionDays")
    scrape_token: str | None = Field(default=None, min_length=16, alias="scrapeToken")


def checked(raw: Any) -> tuple[int, str | None]:
    """``(retentionDays, scrapeToken)`` of the file; ``MonitoringConfigError`` naming each problem."""
    try:
        parsed = _MonitoringFile.model_validate(raw)
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in error.errors()]
        raise MonitoringConfigError("monitoring.json is invalid", data={"problems": problems}) from error
    return parsed.retention_days, parsed.scrape_token
