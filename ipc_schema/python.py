"""The Python channels (``python:*``): a backend's custom node packs and its own packages."""

from __future__ import annotations

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel
from ipc_schema.runtime import NodeType


class PythonBackendParams(PositionalParams):
    backend_id: str


class PythonPackNode(NodeType):
    """A node of a pack, as the node library lists it, with the pack file that declares it."""

    file: str = Field(description="The file of the backend's `python/` folder that declares the node.")


class PythonPackProblem(WireModel):
    file: str | None = Field(description="The pack file at fault; nil when discovery itself failed.")
    error: str = Field(description="Why the file or one of its nodes was not loaded (a trimmed traceback).")


class PythonNodes(WireModel):
    nodes: list[PythonPackNode]
    problems: list[PythonPackProblem]


class PythonInstalled(WireModel):
    ok: bool = Field(description="False when pip failed; the previous packages stay in place.")
    target: str = Field(description="The backend's package folder the workers import from.")
    log_file: str = Field(description="The install's full log (pip's output), kept beside the data.")
    exit_code: int
    packages: list[str] = Field(description="`name==version` of every package now in the folder.")
