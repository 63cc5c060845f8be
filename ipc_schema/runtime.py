"""Methods about the graph runtime."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from ipc_schema.base import PositionalParams, WireModel


class NodePort(WireModel):
    model_config = WireModel.model_config | ConfigDict(extra="allow")

    name: str
    plug: Literal["input", "output"]
    type: Any = Field(description="A type name (`string`, `signal`, `*`, …) or a type object.")
    display_name: str | None = None
    default: Any = None


class NodeType(WireModel):
    """One node type as the editor's node picker shows it (shaped like cloud-nodelib.json)."""

    model_config = WireModel.model_config | ConfigDict(extra="allow")

    name: str
    display_node_name: str
    category: str
    docs: str = ""
    ports: list[NodePort]


class NodeLibraryParams(PositionalParams):
    """``runtime:nodeLibrary [language?]``: every node type, or those a workflow of ``language`` may use
    (its own code nodes and the nodes of both languages)."""

    language: Literal["javascript", "python"] | None = None
