"""Prompt Template, Chat Memory, Embeddings and Vector Store nodes."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from sidecar.ai.chat import AiCallError
from sidecar.ai.embeddings import embed
from sidecar.ai.memory import MAX_THREAD_ID_CHARS
from sidecar.ai.nodes.base import EVENTS, AiNode, field, result
from sidecar.ai.pricing import estimated_cost
from sidecar.ai.vectors import METRICS
from sidecar.runtime.ports import InputSpec
from sidecar.runtime.values import UNDEFINED


def _enum(*values: str) -> dict[str, Any]:
    return {"name": "enum", "enums": [{"label": value, "value": value} for value in values]}


def _run_input() -> InputSpec:
    return InputSpec("run", "signal", on_signal=AiNode._on_run, display_name="Run", group="Actions")


@functools.cache
def _template_environment() -> Any:
    """Jinja2's sandbox: templates reach no attribute or call that could touch the process, and a
    missing variable is an error rather than an empty string."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render_template(template: str, variables: dict[str, Any]) -> str:
    from jinja2 import TemplateError, UndefinedError

    try:
        return str(_template_environment().from_string(template).render(variables))
    except UndefinedError as error:
        raise AiCallError(f"missing template variable: {error.message}") from None
    except TemplateError as error:
        raise AiCallError(f"template error: {error.message}") from None


class PromptTemplateNode(AiNode):
    TYPE = "noodl.ai.promptTemplate"
    DISPLAY_NAME = "Prompt Template"
    DOCS = (
        "Fills a Jinja2 template ({{ name }}, loops and filters; sandboxed) with the Variables object and "
        "outputs the prompt. A variable the template uses but Variables lacks is an error naming it."
    )

    async def work(self) -> dict[str, Any]:
        variables = self.fields.get("variables")
        if variables is UNDEFINED or variables is None:
            variables = {}
        if not isinstance(variables, dict):
            raise AiCallError("variables must be an object")
        return {"prompt": render_template(self.text("template"), variables)}

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("template", "string", display="Template"),
        field("variables", "object", display="Variables"),
        _run_input(),
    )
    OUTPUTS = (result("prompt", "string", "Prompt"), result("error", "string", "Error"), *EVENTS)


class ChatMemoryNode(AiNode):
    TYPE = "noodl.ai.chatMemory"
    DISPLAY_NAME = "Chat Memory"
    DEFAULTS: ClassVar[dict[str, Any]] = {"action": "load", "maxMessages": 20}
    DOCS = (
        "Keeps a conversation per Thread Id in the backend. Append adds Messages (an array of {role, "
        "content}) and outputs the window; Load outputs the window; Clear forgets the thread. The window "
        "is the newest messages within Max Messages and, when set, Max Tokens (estimated)."
    )

    async def work(self) -> dict[str, Any]:
        thread = self.text("threadId")
        if not thread or len(thread) > MAX_THREAD_ID_CHARS:
            raise AiCallError(f"threadId must be 1 to {MAX_THREAD_ID_CHARS} characters")
        memory = self.ai.memory
        action = self.text("action", "load")
        if action == "clear":
            await memory.clear(thread)
            return {"messages": [], "count": 0}
        if action == "append":
            added = self.fields.get("messages")
            if not isinstance(added, list) or not all(isinstance(m, dict) and "role" in m for m in added):
                raise AiCallError("messages to append must be an array of {role, content}")
            await memory.append(thread, added)
        elif action != "load":
            raise AiCallError(f"unknown action {action!r} (append, load or clear)")
        limit = int(self.number("maxMessages", 20) or 20)
        tokens = self.number("maxTokens", None)
        window = await memory.window(thread, max(1, limit), None if tokens is None else int(tokens))
        return {"messages": window, "count": len(window)}

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("threadId", "string", display="Thread Id"),
        field("action", _enum("append", "load", "clear"), "load", display="Action"),
        field("messages", "array", display="Messages"),
        field("maxMessages", "number", 20, display="Max Messages", group="Window"),
        field("maxTokens", "number", display="Max Tokens", group="Window"),
        _run_input(),
    )
    OUTPUTS = (
        result("messages", "array", "Messages"),
        result("count", "number", "Count"),
        result("error", "string", "Error"),
        *EVENTS,
    )


class EmbeddingsNode(AiNode):
    TYPE = "noodl.ai.embeddings"
    DISPLAY_NAME = "Embeddings"
    DOCS = (
        "Turns a text (or an array of texts) into vectors with OpenAI's embeddings API or any server that "
        "speaks it (Base URL). Outputs Embeddings (one vector per text) and Embedding (the first)."
    )

    async def work(self) -> dict[str, Any]:
        given = self.fields.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise AiCallError("input must be a text or an array of texts")
        dimensions = self.number("dimensions", None)
        answer = await embed(
            texts,
            model=self.text("model", "text-embedding-3-small") or "text-embedding-3-small",
            api_key=await self.ai.api_key(self.text("credential") or None, "openai"),
            base_url=self.text("baseUrl") or None,
            dimensions=None if dimensions is None else int(dimensions),
            timeout_seconds=self.timeout_seconds(),
        )
        return {
            "embeddings": answer.vectors,
            "embedding": answer.vectors[0],
            "usage": {"inputTokens": answer.input_tokens, "outputTokens": 0},
            "model": answer.model,
            "cost": estimated_cost("openai", answer.model, answer.input_tokens, 0),
        }

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("input", "*", display="Input"),
        field("model", "string", "text-embedding-3-small", display="Model"),
        field("dimensions", "number", display="Dimensions"),
        field("credential", "string", display="Credential", group="Connection"),
        field("baseUrl", "string", display="Base URL", group="Connection"),
        _run_input(),
    )
    OUTPUTS = (
        result("embeddings", "array", "Embeddings"),
        result("embedding", "array", "Embedding"),
        result("usage", "object", "Usage"),
        result("model", "string", "Model"),
        result("cost", "number", "Estimated Cost (USD)"),
        result("error", "string", "Error"),
        *EVENTS,
    )


class VectorStoreNode(AiNode):
    TYPE = "noodl.ai.vectorStore"
    DISPLAY_NAME = "Vector Store"
    DEFAULTS: ClassVar[dict[str, Any]] = {"action": "query", "topK": 5, "metric": "cosine"}
    DOCS = (
        "A collection of vectors with metadata kept in the backend. Upsert stores Items ({id, vector, "
        "metadata}); Query finds the Top K nearest to Vector among those whose metadata matches Filter "
        "(equality, or $eq $ne $gt $gte $lt $lte $in $nin); Delete removes Ids (or the whole collection)."
    )

    async def work(self) -> dict[str, Any]:
        collection = self.text("collection")
        if not collection or len(collection) > 200:
            raise AiCallError("collection must be a name of 1 to 200 characters")
        store = self.ai.vectors
        action = self.text("action", "query")
        if action == "upsert":
            items = self.fields.get("items")
            if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
                raise AiCallError("items must be an array of {id, vector, metadata}")
            count = await store.upsert(collection, items, self.text("metric", "cosine"))
            return {"count": count, "results": []}
        if action == "query":
            vector = self.fields.get("vector")
            if not isinstance(vector, list) or not vector:
                raise AiCallError("a query needs a vector (an array of numbers)")
            where = self.fields.get("filter")
            found = await store.query(
                collection,
                vector,
                int(self.number("topK", 5) or 5),
                where if isinstance(where, dict) else None,
            )
            return {"results": found, "count": len(found)}
        if action == "delete":
            ids = self.fields.get("ids")
            if isinstance(ids, list) and ids:
                removed = await store.delete(collection, [str(i) for i in ids])
            elif ids is UNDEFINED or ids is None or ids == []:
                removed = await store.delete(collection, None)
            else:
                raise AiCallError("ids must be an array (leave it empty to delete the collection)")
            return {"count": removed, "results": []}
        raise AiCallError(f"unknown action {action!r} (upsert, query or delete)")

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("collection", "string", display="Collection"),
        field("action", _enum("upsert", "query", "delete"), "query", display="Action"),
        field("items", "array", display="Items", group="Upsert"),
        field("metric", _enum(*METRICS), "cosine", display="Metric", group="Upsert"),
        field("vector", "array", display="Vector", group="Query"),
        field("topK", "number", 5, display="Top K", group="Query"),
        field("filter", "object", display="Filter", group="Query"),
        field("ids", "array", display="Ids", group="Delete"),
        _run_input(),
    )
    OUTPUTS = (
        result("results", "array", "Results"),
        result("count", "number", "Count"),
        result("error", "string", "Error"),
        *EVENTS,
    )
