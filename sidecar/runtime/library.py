"""The node library the editor shows for cloud components (IPC ``runtime:nodeLibrary``)."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.component import ComponentInputs, ComponentOutputs
from sidecar.runtime.language import classes_for
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


def node_library(language: str | None = None) -> list[dict[str, Any]]:
    """One record per node type: name, displayNodeName, category, docs and ports (static ones); with
    ``language``, only the types a workflow of that language may use (``runtime.language``)."""
    classes = classes_for([ComponentInputs, ComponentOutputs, *NODE_CLASSES], language)
    return [dict(COMPONENT_CHILDREN), *(cls.describe() for cls in classes)]
