"""A backend's custom Python node packs: ``<data dir>/python/*.py``, discovered, listed and reloaded.

Discovery imports the pack files in a worker of the backend's pool (``op: "discover"``), never in the
sidecar's interpreter; the worker answers a descriptor per valid node and a problem per broken file or
node, so a broken pack is reported while the others load. The descriptors become node types
(:func:`~sidecar.runtime.nodes.python_custom.custom_node_class`) served through :attr:`node_types`, a
live view over the built-in library that the backend's runtimes and deploy checks read: a change to the
folder (a file added, edited or removed; seen by a stat poll each second) is picked up by the next
scope a run builds, with no redeploy. A name that is already a built-in node type is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog

from sidecar.python_runtime import PythonLimitError, PythonPool
from sidecar.runtime.node import Node
from sidecar.runtime.nodes import NODE_TYPES

log = structlog.get_logger()

POLL_SECONDS = 1.0
_Signature = tuple[tuple[str, int, int], ...]


class LiveNodeTypes(Mapping[str, type[Node]]):
    """The built-in node types and, over them, the packs' current ones."""

    def __init__(self, packs: PythonPacks) -> None:
        self._packs = packs

    def __getitem__(self, name: str) -> type[Node]:
        found = self._packs.types.get(name)
        return found if found is not None else NODE_TYPES[name]

    def __iter__(self) -> Iterator[str]:
        yield from NODE_TYPES
        yield from self._packs.types

    def __len__(self) -> int:
        return len(NODE_TYPES) + len(self._packs.types)

    def __contains__(self, name: object) -> bool:
        return name in self._packs.types or name in NODE_TYPES


class PythonPacks:
    """The packs of one backend; ``refresh`` re-discovers when the folder changed."""

    def __init__(self, folder: Path, pool: PythonPool) -> None:
        self.folder = folder
        self.pool = pool
        self.types: dict[str, type[Node]] = {}
        self.nodes: list[dict[str, Any]] = []  # the descriptors, for the listing
        self.problems: list[dict[str, Any]] = []
        self.node_types = LiveNodeTypes(self)
        self.loads = 0  # discoveries made (each change of the folder is one)
        self._signature: _Signature = ()
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    def signature(self) -> _Signature:
        """Name, modification time and size of every ``.py`` file of the folder; () when none."""
        try:
            entries = sorted(self.folder.glob("*.py"))
            return tuple((path.name, (stat := path.stat()).st_mtime_ns, stat.st_size) for path in entries)
        except OSError:
            return ()

    def forget(self) -> None:
        """Discover again on the next refresh even if no file changed (new packages were installed)."""
        self._signature = (("", -1, -1),)

    async def refresh(self) -> bool:
        """Discover again when the folder changed since the last discovery; True when it did."""
        async with self._lock:
            signature = self.signature()
            if signature == self._signature:
                return False
            self._signature = signature
            if not signature:
                self._apply([], [])
                return True
            try:
                answer = await self.pool.call(
                    {"op": "discover", "folder": str(self.folder)}, wall_seconds=30.0
                )
            except PythonLimitError as error:
                self._apply([], [{"file": None, "error": error.message}])
                return True
            if not answer.ok or not isinstance(answer.result, dict):
                self._apply([], [{"file": None, "error": answer.error or "discovery failed"}])
                return True
            self._apply(list(answer.result.get("nodes") or []), list(answer.result.get("problems") or []))
            return True

    def _apply(self, descriptors: list[dict[str, Any]], problems: list[dict[str, Any]]) -> None:
        from sidecar.runtime.nodes.python_custom import custom_node_class

        types: dict[str, type[Node]] = {}
        listed: list[dict[str, Any]] = []
        for descriptor in descriptors:
            name = str(descriptor.get("name"))
            if name in NODE_TYPES:
                problems.append(
                    {"file": descriptor.get("file"), "error": f"{name!r} is a built-in node type"}
                )
                continue
            try:
                types[name] = custom_node_class(descriptor, self.folder)
            except (KeyError, TypeError, ValueError) as error:
                problems.append({"file": descriptor.get("file"), "error": f"node {name!r}: {error}"})
                continue
            listed.append(descriptor)
        self.types, self.nodes, self.problems = types, listed, problems
        self.loads += 1
        for problem in problems:
            log.warning("python node pack problem", folder=str(self.folder), **problem)
        log.info(
            "python node packs loaded", folder=str(self.folder), nodes=len(types), problems=len(problems)
        )

    def listing(self) -> dict[str, Any]:
        """``{nodes: [node library entry + file], problems: [{file, error}]}``."""
        entries = [{**cls.describe(), "file": Path(cls.PACK_FILE).name} for cls in self.types.values()]  # type: ignore[attr-defined]
        return {"nodes": entries, "problems": list(self.problems)}

    def start_watching(self, interval: float = POLL_SECONDS) -> None:
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch(interval))

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as error:  # the watcher outlives a bad moment (a file half written)
                log.warning("python node packs refresh failed", error=repr(error))

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
