"""The deploy channels (``deploy:*``): a backend's bundle and its container build context."""

from __future__ import annotations

from typing import Any

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


# ---- cloud targets, the deploy flow, releases, env vars and secrets, domains -------------------------


class TargetSettings(WireModel):
    provider: str = Field(description="fly, railway or render.")
    app: str = Field(description="The provider's app/service name.")
    region: str | None = None
    api_base: str | None = Field(default=None, description="The provider API's address (default: its own).")
    registry: str | None = Field(default=None, description="Image registry host (default: the provider's).")
    public_url: str | None = Field(default=None, description="The app's address; `{app}` is replaced.")
    token_credential: str | None = Field(
        default=None,
        description="The backend credential holding the provider's API token (default: provider).",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Provider settings (org, memoryMb, …).")


class TargetParams(PositionalParams):
    backend_id: str
    target: str = Field(description="Target name: production, staging, …")


class TargetSetParams(PositionalParams):
    backend_id: str
    target: str
    settings: TargetSettings


class DomainEntry(WireModel):
    hostname: str
    status: str = Field(description="pending, issued or failed.")
    detail: str = ""
    checked_at: str | None = None


class DeployTarget(WireModel):
    provider: str
    app: str
    region: str = ""
    api_base: str = ""
    registry: str = ""
    public_url: str = ""
    token_credential: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict, description="Plain variables (values shown).")
    secrets: list[str] = Field(default_factory=list, description="Secret names; values are write-only.")
    pending_secrets: list[str] = Field(default_factory=list, description="Set here, not yet on the target.")
    unset: list[str] = Field(default_factory=list, description="Removed here, still on the target.")
    domains: list[DomainEntry] = Field(default_factory=list)


class DeployTargets(WireModel):
    targets: dict[str, DeployTarget]


class ReleaseImage(WireModel):
    reference: str
    digest: str | None = None


class Release(WireModel):
    version: int
    target: str
    bundle_hash: str
    image: ReleaseImage | None = None
    by: str
    at: str
    finished_at: str | None = None
    status: str = Field(description="deploying, live, superseded, failed or cancelled.")
    reason: str = Field(default="deploy", description="deploy, rollback or environment.")
    stage: str | None = Field(default=None, description="When failed or cancelled: the stage it stopped in.")
    error: str | None = None
    restored: bool | None = Field(
        default=None,
        description="After a failure: whether the previous release serves again (nil: untouched).",
    )
    rollback_of: int | None = None
    url: str | None = None
    stages: dict[str, float] = Field(default_factory=dict, description="Seconds per stage.")
    logs: list[str] = Field(default_factory=list)


class Releases(WireModel):
    releases: list[Release] = Field(description="Oldest first.")


class RollbackParams(PositionalParams):
    backend_id: str
    target: str
    version: int


class EnvSetParams(PositionalParams):
    backend_id: str
    target: str
    env: dict[str, str | None] = Field(default_factory=dict, description="Value, or nil to remove.")
    secrets: dict[str, str | None] = Field(
        default_factory=dict, description="Value (write-only), or nil to remove."
    )


class EnvChange(WireModel):
    name: str
    action: str = Field(description="add, change or remove.")
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class SecretChange(WireModel):
    name: str
    action: str


class EnvPlan(WireModel):
    target: str
    env: list[EnvChange]
    secrets: list[SecretChange] = Field(description="Names only: a secret value is never answered.")


class EnvApplied(WireModel):
    applied: bool
    release: Release | None = Field(default=None, description="The restart on the live image, if any.")


class DomainParams(PositionalParams):
    backend_id: str
    target: str
    hostname: str
    wait_seconds: float = Field(default=600.0, description="How long to poll a pending certificate.")
