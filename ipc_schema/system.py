"""Methods about the sidecar process itself."""

from __future__ import annotations

from pydantic import Field

from ipc_schema.base import WireModel


class SelftestCheck(WireModel):
    name: str = Field(description="What was exercised, e.g. `sqlite3` or `aiohttp`.")
    ok: bool
    ms: float
    detail: str | None = Field(default=None, description="Version on success, the error on failure.")


class SelftestResult(WireModel):
    ok: bool
    checks: list[SelftestCheck]
