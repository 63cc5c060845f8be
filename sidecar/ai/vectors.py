"""Vector collections of a backend in ``ai/vectors.sqlite``: upsert with metadata, exact top-k, delete.

Why not ``sqlite-vec``: the SQLite of many Python builds (this project's own CI interpreter among them)
cannot load extensions at all, and sqlite-vec's ``vec0`` tables search by brute force anyway. So
vectors are stored as float32 blobs in plain SQLite (durable, one file) and searched in memory with
NumPy: a collection is loaded once into one matrix and scored with one matrix-vector product, which
gives exact results, any metadata filter, and 100,000 vectors of 384 dimensions in a few milliseconds.

A collection fixes its dimensions and metric (``cosine`` or ``l2``) when it is first written.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar.ai.sqlite_file import session

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

METRICS = ("cosine", "l2")
MAX_TOP_K = 1000
MAX_DIMENSIONS = 8192
_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY, dimensions INTEGER NOT NULL, metric TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    collection TEXT NOT NULL, id TEXT NOT NULL, vector BLOB NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (collection, id)
) WITHOUT ROWID;
"""
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: _ordered(a, b) and a > b,
    "$gte": lambda a, b: _ordered(a, b) and a >= b,
    "$lt": lambda a, b: _ordered(a, b) and a < b,
    "$lte": lambda a, b: _ordered(a, b) and a <= b,
    "$in": lambda a, b: isinstance(b, list) and a in b,
    "$nin": lambda a, b: isinstance(b, list) and a not in b,
}


class VectorStoreError(ValueError):
    """A request the store cannot honour (wrong dimensions, unknown metric, bad filter)."""


def _ordered(a: Any, b: Any) -> bool:
    numbers = (int, float)
    both_numbers = isinstance(a, numbers) and isinstance(b, numbers)
    return both_numbers or (isinstance(a, str) and isinstance(b, str))


@dataclass
class _Loaded:
    ids: list[str]
    metadata: list[dict[str, Any]]
    matrix: npt.NDArray[np.float32]  # one row a vector; rows normalised for cosine
    metric: str


class VectorStore:
    def __init__(self, folder: Path) -> None:
        self._path = folder / "vectors.sqlite"
        self._lock = threading.Lock()
        self._loaded: dict[str, _Loaded] = {}

    async def upsert(self, collection: str, items: list[dict[str, Any]], metric: str = "cosine") -> int:
        return await asyncio.to_thread(self._upsert, collection, items, metric)

    async def query(
        self, collection: str, vector: list[float], top_k: int, where: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._query, collection, vector, top_k, where or {})

    async def delete(self, collection: str, ids: list[str] | None) -> int:
        return await asyncio.to_thread(self._delete, collection, ids)

    # ---- in a worker thread ---------------------------------------------------------------------------
    def _upsert(self, collection: str, items: list[dict[str, Any]], metric: str) -> int:
        import numpy as np

        if metric not in METRICS:
            raise VectorStoreError(f"unknown metric {metric!r} (expected cosine or l2)")
        if not items:
            return 0
        rows = []
        for item in items:
            vector = item.get("vector")
            if not isinstance(vector, list) or not vector or len(vector) > MAX_DIMENSIONS:
                raise VectorStoreError(f"item {item.get('id')!r} has no vector (a list of numbers)")
            metadata = item.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise VectorStoreError(f"item {item.get('id')!r}: metadata must be an object")
            blob = np.asarray(vector, dtype=np.float32).tobytes()
            rows.append((collection, str(item.get("id")), blob, json.dumps(metadata), len(vector)))
        dimensions = rows[0][4]
        if any(row[4] != dimensions for row in rows):
            raise VectorStoreError("every vector of one upsert must have the same dimensions")
        with self._lock, session(self._path, _SCHEMA) as db:
            known = db.execute(
                "SELECT dimensions, metric FROM collections WHERE name = ?", (collection,)
            ).fetchone()
            if known is None:
                db.execute("INSERT INTO collections VALUES (?, ?, ?)", (collection, dimensions, metric))
            elif known[0] != dimensions:
                raise VectorStoreError(
                    f"collection {collection!r} holds vectors of {known[0]} dimensions, not {dimensions}"
                )
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", [row[:4] for row in rows])
            self._loaded.pop(collection, None)
        return len(rows)

    def _delete(self, collection: str, ids: list[str] | None) -> int:
        with self._lock, session(self._path, _SCHEMA) as db:
            if ids is None:
                count = db.execute("DELETE FROM vectors WHERE collection = ?", (collection,)).rowcount
                db.execute("DELETE FROM collections WHERE name = ?", (collection,))
            else:
                count = sum(
                    db.execute(
                        "DELETE FROM vectors WHERE collection = ? AND id = ?", (collection, i)
                    ).rowcount
                    for i in ids
                )
            self._loaded.pop(collection, None)
        return count

    def _query(
        self, collection: str, vector: list[float], top_k: int, where: dict[str, Any]
    ) -> list[dict[str, Any]]:
        import numpy as np

        if not 1 <= top_k <= MAX_TOP_K:
            raise VectorStoreError(f"topK must be between 1 and {MAX_TOP_K}")
        loaded = self._load(collection)
        if loaded is None or not loaded.ids:
            return []
        probe = np.asarray(vector, dtype=np.float32)
        if probe.shape != (loaded.matrix.shape[1],):
            raise VectorStoreError(
                f"the query vector has {probe.size} dimensions; collection {collection!r} holds "
                f"{loaded.matrix.shape[1]}"
            )
        rows = np.arange(len(loaded.ids)) if not where else _matching_rows(loaded.metadata, where)
        if rows.size == 0:
            return []
        candidates = loaded.matrix[rows]
        if loaded.metric == "cosine":
            norm = float(np.linalg.norm(probe))
            distances = 1.0 - candidates @ (probe / norm if norm else probe)
        else:
            distances = np.linalg.norm(candidates - probe, axis=1)
        k = min(top_k, rows.size)
        best = np.argpartition(distances, k - 1)[:k]
        best = best[np.argsort(distances[best], kind="stable")]
        return [
            {
                "id": loaded.ids[rows[i]],
                "distance": float(distances[i]),
                "score": float(1.0 - distances[i]) if loaded.metric == "cosine" else float(-distances[i]),
                "metadata": loaded.metadata[rows[i]],
            }
            for i in best
        ]

    def _load(self, collection: str) -> _Loaded | None:
        import numpy as np

        with self._lock:
            cached = self._loaded.get(collection)
            if cached is not None:
                return cached
            with session(self._path, _SCHEMA) as db:
                known = db.execute(
                    "SELECT dimensions, metric FROM collections WHERE name = ?", (collection,)
                ).fetchone()
                if known is None:
                    return None
                rows = db.execute(
                    "SELECT id, vector, metadata FROM vectors WHERE collection = ? ORDER BY id", (collection,)
                ).fetchall()
            dimensions, metric = known
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
                len(rows), dimensions
            )
            if metric == "cosine":
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                matrix = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
            loaded = _Loaded([row[0] for row in rows], [json.loads(row[2]) for row in rows], matrix, metric)
            self._loaded[collection] = loaded
            return loaded


def _matching_rows(metadata: list[dict[str, Any]], where: dict[str, Any]) -> npt.NDArray[np.intp]:
    import numpy as np

    tests = [_condition(key, condition) for key, condition in where.items()]
    return np.fromiter(
        (index for index, meta in enumerate(metadata) if all(test(meta) for test in tests)), dtype=np.intp
    )


def _condition(key: str, condition: Any) -> Callable[[dict[str, Any]], bool]:
    if isinstance(condition, dict):
        unknown = [op for op in condition if op not in _COMPARISONS]
        if unknown:
            raise VectorStoreError(f"unknown filter operator {unknown[0]!r} on {key!r}")
        checks = [(_COMPARISONS[op], operand) for op, operand in condition.items()]
        return lambda meta: key in meta and all(check(meta[key], operand) for check, operand in checks)
    return lambda meta: meta.get(key) == condition
