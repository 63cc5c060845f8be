"""Workflow logic nodes (OpenNoodl CF11-001..003, category "Workflow Logic").

Branching: IF, Switch (``branching``); fan-out and join, ending a run: Split, Merge, Stop (``flow``);
timers: Wait, Wait Until, Debounce (``timing``); child components: For Each (``foreach``),
Try/Catch (``trycatch``); Retry (``retry``). Each module's docstring records the semantics chosen
from n8n, Node-RED and Windmill (``workflow-engines.md``).
"""

from __future__ import annotations

from sidecar.runtime.node import Node
from sidecar.runtime.nodes.workflow.branching import WorkflowIfNode, WorkflowSwitchNode
from sidecar.runtime.nodes.workflow.flow import WorkflowMergeNode, WorkflowSplitNode, WorkflowStopNode
from sidecar.runtime.nodes.workflow.foreach import WorkflowForEachNode
from sidecar.runtime.nodes.workflow.retry import WorkflowRetryNode
from sidecar.runtime.nodes.workflow.timing import (
    WorkflowDebounceNode,
    WorkflowWaitNode,
    WorkflowWaitUntilNode,
)
from sidecar.runtime.nodes.workflow.trycatch import WorkflowTryCatchNode

WORKFLOW_NODE_CLASSES: tuple[type[Node], ...] = (
    WorkflowIfNode,
    WorkflowSwitchNode,
    WorkflowForEachNode,
    WorkflowMergeNode,
    WorkflowSplitNode,
    WorkflowTryCatchNode,
    WorkflowRetryNode,
    WorkflowStopNode,
    WorkflowWaitNode,
    WorkflowWaitUntilNode,
    WorkflowDebounceNode,
)

__all__ = ["WORKFLOW_NODE_CLASSES"]
