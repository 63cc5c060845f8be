"""What AI nodes need from their backend: keys by credential name, a data folder, and its functions.

The composition root (``sidecar.backends``) hands a :class:`BackendAiPort` to the runtime; tests may hand
any object with the same three members.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sidecar.ai.memory import ChatMemory
from sidecar.ai.vectors import VectorStore

FunctionCaller = Callable[[str, str], Awaitable[tuple[int, str]]]
"""``(function name, JSON body) → (status code, response body)``: one call of a backend's function."""


class AiPort(Protocol):
    @property
    def data_dir(self) -> Path:
        """Where the backend keeps its AI data (conversations, vector collections, agent checkpoints)."""

    @property
    def memory(self) -> ChatMemory: ...

    @property
    def vectors(self) -> VectorStore: ...

    async def api_key(self, credential: str | None, provider: str) -> str:
        """The key for ``provider``: the named credential, else the provider's usual environment variable.
        Raises ``CredentialNotFoundError`` naming every place tried."""

    async def call_function(self, name: str, body: str) -> tuple[int, str]:
        """Run the backend's cloud function ``name`` with a JSON ``body`` (an agent's tool call)."""


class BackendAiPort:
    """The port over one backend: its credential store, an AI data folder, and its function invoker."""

    def __init__(self, credentials_dir: Path, data_dir: Path, invoke: FunctionCaller) -> None:
        self.credentials_dir = credentials_dir
        self._data_dir = data_dir
        self.invoke = invoke

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @functools.cached_property
    def memory(self) -> ChatMemory:
        return ChatMemory(self._data_dir)

    @functools.cached_property
    def vectors(self) -> VectorStore:
        return VectorStore(self._data_dir)

    async def api_key(self, credential: str | None, provider: str) -> str:
        from sidecar.credentials.store import CredentialStore

        store = CredentialStore(self.credentials_dir)
        name = credential or _DEFAULT_CREDENTIAL[provider]
        resolved = await asyncio.to_thread(store.lookup, name, provider)
        return resolved.value

    async def call_function(self, name: str, body: str) -> tuple[int, str]:
        return await self.invoke(name, body)


_DEFAULT_CREDENTIAL = {"anthropic": "anthropic", "openai": "openai"}
"""With no credential named, the look-up tries a credential named after the provider, then the
provider's environment variable (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``), as the SDKs do."""


def scratch_data_dir(backend_id: str) -> Path:
    """The AI data folder of an ephemeral backend (which keeps nothing in its own data directory)."""
    return Path(tempfile.gettempdir()) / f"noodl-sidecar-ai-{backend_id}"
