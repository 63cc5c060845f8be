"""The node library: every node type the cloud runtime registers, by type name."""

from __future__ import annotations

from sidecar.ai.nodes import AI_NODE_CLASSES
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.cloud import CloudFileNode, ConfigNode, SetUserPropertiesNode, UserNode
from sidecar.runtime.nodes.code import ExpressionNode, FunctionNode
from sidecar.runtime.nodes.filter import FilterRecordsNode
from sidecar.runtime.nodes.io import RequestNode, ResponseNode
from sidecar.runtime.nodes.logic import AndNode, ConditionNode, InverterNode, OrNode
from sidecar.runtime.nodes.objects import CreateNewObjectNode, ObjectNode, SetObjectPropertiesNode
from sidecar.runtime.nodes.python import PythonExpressionNode, PythonFunctionNode
from sidecar.runtime.nodes.python_core import PYTHON_CORE_NODE_CLASSES
from sidecar.runtime.nodes.query import AggregateRecordsNode, QueryRecordsNode
from sidecar.runtime.nodes.records import (
    AddRelationNode,
    CreateRecordNode,
    DeleteRecordNode,
    RecordNode,
    RemoveRelationNode,
    SetRecordNode,
)
from sidecar.runtime.nodes.rest import RestNode
from sidecar.runtime.nodes.strings import (
    BooleanToStringNode,
    DateToStringNode,
    StringFormatNode,
    StringMapperNode,
    SubstringNode,
)
from sidecar.runtime.nodes.tasks import RunTasksNode
from sidecar.runtime.nodes.utilities import CounterNode, UniqueIdNode
from sidecar.runtime.nodes.variables import BooleanNode, NumberNode, StringNode
from sidecar.runtime.nodes.workflow import WORKFLOW_NODE_CLASSES

NODE_CLASSES: tuple[type[Node], ...] = (
    RequestNode,
    ResponseNode,
    ExpressionNode,
    FunctionNode,
    PythonFunctionNode,
    PythonExpressionNode,
    *PYTHON_CORE_NODE_CLASSES,
    ConditionNode,
    AndNode,
    OrNode,
    InverterNode,
    NumberNode,
    StringNode,
    BooleanNode,
    StringFormatNode,
    SubstringNode,
    StringMapperNode,
    BooleanToStringNode,
    DateToStringNode,
    CounterNode,
    UniqueIdNode,
    ObjectNode,
    SetObjectPropertiesNode,
    CreateNewObjectNode,
    RunTasksNode,
    QueryRecordsNode,
    RecordNode,
    CreateRecordNode,
    SetRecordNode,
    DeleteRecordNode,
    AddRelationNode,
    RemoveRelationNode,
    FilterRecordsNode,
    AggregateRecordsNode,
    ConfigNode,
    CloudFileNode,
    UserNode,
    SetUserPropertiesNode,
    RestNode,
    *WORKFLOW_NODE_CLASSES,
    *AI_NODE_CLASSES,
)

NODE_TYPES: dict[str, type[Node]] = {cls.TYPE: cls for cls in NODE_CLASSES}
