"""The node library the editor shows for cloud components (IPC ``runtime:nodeLibrary``)."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.component import ComponentInputs, ComponentOutputs
from sidecar.runtime.node import Node
from sidecar.runtime.nodes import NODE_CLASSES

# The editor's placeholder for a component's children: listed by the runtime's generated library
# (cloud-nodelib.json) although nothing runs for it.
COMPONENT_CHILDREN: dict[str, Any] = {
    "name": "Component Children",
    "displayNodeName": "Component Children",
    "category": "Visual",
    "docs": "Placeholder for where the children of this component are inserted.",
    "ports": [],
    "allowAsChild": True,
    "haveComponentChildren": ["Visual"],
}


def node_library() -> list[dict[str, Any]]:
    """One record per node type: name, displayNodeName, category, docs and ports (static ones)."""
    classes: list[type[Node]] = [ComponentInputs, ComponentOutputs, *NODE_CLASSES]
    return [dict(COMPONENT_CHILDREN), *(cls.describe() for cls in classes)]
