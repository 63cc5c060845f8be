"""The AI node types, registered in the runtime's node library."""

from __future__ import annotations

from sidecar.ai.nodes.agent_node import AgentNode
from sidecar.ai.nodes.chat_nodes import ClaudeNode, OpenAiNode
from sidecar.ai.nodes.data_nodes import ChatMemoryNode, EmbeddingsNode, PromptTemplateNode, VectorStoreNode

AI_NODE_CLASSES = (
    ClaudeNode,
    OpenAiNode,
    PromptTemplateNode,
    ChatMemoryNode,
    EmbeddingsNode,
    VectorStoreNode,
    AgentNode,
)
