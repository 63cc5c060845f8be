"""AI nodes: chat completions (Claude, OpenAI), prompt templates, chat memory, embeddings, a vector store
and a LangGraph tool-calling agent.

This package owns the provider calls (``chat``, ``embeddings``: the vendors' own SDKs, imported on first
use), the per-backend AI data (``memory``: conversations; ``vectors``: collections; the agent's
checkpoints), the price table (``pricing``) and the graph nodes (``nodes``). Nodes reach the backend only
through :class:`~sidecar.ai.port.AiPort` (credential look-up, data folder, calling the backend's own
functions), so the runtime stays free of backend imports. Keys come from the credential store and never
reach history, logs or bundles.
"""
