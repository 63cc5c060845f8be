"""The node library the editor shows for cloud components (IPC ``runtime:nodeLibrary``)."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.component import ComponentInputs, ComponentOutputs
from sidecar.runtime.node import Node
from sidecar.runtime.nodes import NODE_CLASSES


def node_library() -> list[dict[str, Any]]:
    """One record per node type: name, displayNodeName, category, docs and ports (static ones)."""
    classes: list[type[Node]] = [ComponentInputs, ComponentOutputs, *NODE_CLASSES]
    return [cls.describe() for cls in classes]
