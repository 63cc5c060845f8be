"""The deploy channels (``deploy:*``): a backend's bundle and its container build context."""

from __future__ import annotations

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class DeployOutParams(PositionalParams):
    backend_id: str
    out_dir: str = Field(description="An empty (or missing) folder to write into.")


class BuildContextOptions(WireModel):
    base_image: str | None = Field(default=None, description="The Dockerfile's BASE_IMAGE default.")


class BuildContextParams(PositionalParams):
    backend_id: str
    out_dir: str = Field(description="An empty (or missing) folder to write into.")
    options: BuildContextOptions = Field(default_factory=BuildContextOptions)


class BundleWritten(WireModel):
    bundle_hash: str
    path: str
    created_at: str
    files: dict[str, str] = Field(description="Path in the bundle → sha256:<hex> of its content.")


class BuildContextWritten(WireModel):
    bundle_hash: str
    path: str
    dockerfile: str
    base_image: str
    required_environment: list[str] = Field(description="Variables the container refuses to start without.")
