"""What the routes reach: the store, the settings, the function invoker, config params and files.

``FunctionInvoker`` is the one seam the graph runtime plugs into; until one is set, ``/functions/:name``
answers the contract's 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sidecar.store import AuthStore, CallerContext, RecordStore, SchemaAdmin
from sidecar.web.auth import ApiKeyDirectory
from sidecar.web.configparams import ConfigParams
from sidecar.web.filestore import FileStore
from sidecar.web.settings import WebSettings


class DataStore(RecordStore, SchemaAdmin, AuthStore, Protocol):
    """The three store protocols together (``SqliteRecordStore`` implements all of them)."""


@dataclass(frozen=True)
class FunctionRequest:
    body: str
    """The call's JSON parameters re-serialized as text (credential keys removed)."""
    headers: Mapping[str, str]
    """Request headers with lower-case names, verbatim."""
    caller: CallerContext


class FunctionInvoker(Protocol):
    async def invoke(self, name: str, request: FunctionRequest) -> tuple[int, str]:
        """Run cloud function ``name``; answer ``(HTTP status, JSON body text)``. Raise
        ``FunctionNotFoundError`` for an unknown name; other ``SidecarError``s become ``{error, code}``
        with their ``http_status``."""
        ...


@dataclass(frozen=True)
class Services:
    store: DataStore
    settings: WebSettings
    config: ConfigParams
    files: FileStore | None
    functions: FunctionInvoker | None
    api_keys: ApiKeyDirectory | None = None
    """Resolves ``X-NodeGX-Api-Key``; without one, a request carrying a key is refused (401)."""
