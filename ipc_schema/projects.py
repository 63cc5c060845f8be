"""``project:*``: what generation a project folder targets, and whether it is open read-only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class ProjectDirParams(PositionalParams):
    project_dir: str = Field(description="The project folder (the one holding project.json)")


class SetReadOnlyParams(PositionalParams):
    project_dir: str
    read_only: bool


class MissingNodeType(WireModel):
    type: str
    count: int
    components: list[str] = Field(description="The cloud components that use it")


class ChangedNodeType(WireModel):
    type: str
    change: str = Field(description="What the current editor rewrites when it opens the project")
    count: int


class ProjectInspection(WireModel):
    project_dir: str
    project_id: str = Field(description="project.json's id, or the folder when it has none")
    name: str | None = None
    project_version: int | None = Field(None, description="project.json's version (nil: none readable)")
    current_version: int
    generation: Literal["legacy", "current", "newer", "unknown"] = Field(
        description="legacy: an older editor's project (upgraded on open); newer: a newer editor's "
        "(this one cannot open it); unknown: no readable version"
    )
    cloud_functions: int
    missing_node_types: list[MissingNodeType] = Field(
        description="Node types of its cloud functions the runtime does not have (deploys would fail)"
    )
    changed_node_types: list[ChangedNodeType]
    read_only_advised: bool
    reasons: list[str]
    read_only: bool | None = Field(None, description="The decision project:set-read-only recorded, if any")


class ReadOnlyRecorded(WireModel):
    project_id: str
    project_dir: str
    read_only: bool
    decided_at: str
