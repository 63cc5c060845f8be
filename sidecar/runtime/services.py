"""What a run may use from outside the graph, handed in by the composition root.

The runtime imports nothing from ``sidecar.store``; the Records and User nodes reach the backend
through :class:`~sidecar.runtime.records_port.RecordsPort`, Config nodes through :class:`ConfigPort`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sidecar.python_runtime import PythonPool
from sidecar.runtime.export import ExportDef
from sidecar.runtime.http_client import HttpClient
from sidecar.runtime.jsengine import JsEngine
from sidecar.runtime.records_port import RecordsPort

if TYPE_CHECKING:
    from sidecar.ai.port import AiPort
    from sidecar.runtime.export import ComponentDef
    from sidecar.runtime.node import Node
    from sidecar.runtime.scope_template import InstanceTemplate


class ConfigPort(Protocol):
    async def get_config(self) -> Mapping[str, Any]:
        """The backend's config parameters (``GET /config``)."""


@dataclass(frozen=True, slots=True)
class RunServices:
    export: ExportDef
    node_types: Mapping[str, type[Node]]
    js: JsEngine
    records: RecordsPort | None = None
    config: ConfigPort | None = None
    http: HttpClient | None = None  # outbound HTTP for REST nodes; None means aiohttp
    settings_json: str = "{}"  # the export's settings and metadata as scripts see them, encoded once
    metadata_json: str = "{}"
    js_changes_builtins: bool = False  # the export's scripts may change built-ins (see jsengine)
    python: PythonPool | None = None  # workers for Python nodes; None means the process's shared pool
    ai: AiPort | None = None  # keys, data folder and functions for the AI nodes; None: no backend
    # Per component and always-connected inputs: the template its instances made mid-run are copied
    # from (None when they cannot be), with the definition it was made from (see component.new_instance).
    instance_templates: dict[tuple[str, frozenset[str]], tuple[ComponentDef, InstanceTemplate | None]] = (
        field(default_factory=dict)
    )
