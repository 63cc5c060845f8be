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
import dataclasses
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
    # Built on first use per metadata key: value → rows holding it, for equality filters.
    by_value: dict[str, dict[Any, npt.NDArray[np.intp]]] = dataclasses.field(default_factory=dict)

    def upserted(
        self, ids: list[str], vectors: npt.NDArray[np.float32], metadata: list[dict[str, Any]]
    ) -> None:
        """Take an upsert into memory: replaced rows in place, new rows appended (no reload from disk)."""
        import numpy as np

        vectors = _normalised(vectors) if self.metric == "cosine" else vectors
        position = {item: row for row, item in enumerate(self.ids)}
        fresh: list[int] = []
        for index, item in enumerate(ids):
            row = position.get(item)
            if row is None:
                position[item] = len(self.ids) + len(fresh)
                fresh.append(index)
            else:
                self.matrix[row] = vectors[index]
                self.metadata[row] = metadata[index]
        if fresh:
            self.matrix = np.vstack([self.matrix, vectors[fresh]])
            self.ids.extend(ids[i] for i in fresh)
            self.metadata.extend(metadata[i] for i in fresh)
        self.by_value.clear()

    def deleted(self, ids: list[str]) -> None:
        import numpy as np

        gone = set(ids)
        keep = np.fromiter((item not in gone for item in self.ids), dtype=bool, count=len(self.ids))
        self.matrix = self.matrix[keep]
        self.ids = [item for item, kept in zip(self.ids, keep, strict=True) if kept]
        self.metadata = [meta for meta, kept in zip(self.metadata, keep, strict=True) if kept]
        self.by_value.clear()


def _normalised(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


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
        parsed: list[dict[str, Any]] = []
        for item in items:
            vector = item.get("vector")
            if not isinstance(vector, list) or not vector or len(vector) > MAX_DIMENSIONS:
                raise VectorStoreError(f"item {item.get('id')!r} has no vector (a list of numbers)")
            metadata = item.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise VectorStoreError(f"item {item.get('id')!r}: metadata must be an object")
            parsed.append(metadata)
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
            loaded = self._loaded.get(collection)
            if loaded is not None:
                block = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32)
                loaded.upserted([row[1] for row in rows], block.reshape(len(rows), dimensions).copy(), parsed)
        return len(rows)

    def _delete(self, collection: str, ids: list[str] | None) -> int:
        with self._lock, session(self._path, _SCHEMA) as db:
            if ids is None:
                count = db.execute("DELETE FROM vectors WHERE collection = ?", (collection,)).rowcount
                db.execute("DELETE FROM collections WHERE name = ?", (collection,))
                self._loaded.pop(collection, None)
            else:
                count = sum(
                    db.execute(
                        "DELETE FROM vectors WHERE collection = ? AND id = ?", (collection, i)
                    ).rowcount
                    for i in ids
                )
                loaded = self._loaded.get(collection)
                if loaded is not None:
                    loaded.deleted(ids)
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
        rows = np.arange(len(loaded.ids)) if not where else _matching_rows(loaded, where)
        if rows.size == 0:
            return []
        # Without a filter every row is a candidate: score the matrix itself rather than a copy of it.
        candidates = loaded.matrix if not where else loaded.matrix[rows]
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
                matrix = _normalised(matrix)
            loaded = _Loaded([row[0] for row in rows], [json.loads(row[2]) for row in rows], matrix, metric)
            self._loaded[collection] = loaded
            return loaded


def _matching_rows(loaded: _Loaded, where: dict[str, Any]) -> npt.NDArray[np.intp]:
    """Rows whose metadata meets ``where``: equality on a scalar through the per-key index, then any
    other conditions tested on those rows only."""
    import numpy as np

    rows: npt.NDArray[np.intp] | None = None
    rest = {}
    for key, condition in where.items():
        if isinstance(condition, (str, int, float, bool)) or condition is None:
            found = _rows_equal(loaded, key, condition)
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        else:
            rest[key] = condition
    if rows is None:
        rows = np.arange(len(loaded.ids))
    if not rest:
        return rows
    tests = [_condition(key, condition) for key, condition in rest.items()]
    metadata = loaded.metadata
    return np.fromiter((i for i in rows if all(test(metadata[i]) for test in tests)), dtype=np.intp)


def _rows_equal(loaded: _Loaded, key: str, value: Any) -> npt.NDArray[np.intp]:
    import numpy as np

    index = loaded.by_value.get(key)
    if index is None:
        grouped: dict[Any, list[int]] = {}
        for row, meta in enumerate(loaded.metadata):
            held = meta.get(key)
            if isinstance(held, (str, int, float, bool)) or held is None:
                grouped.setdefault((type(held) is bool, held), []).append(row)
        index = loaded.by_value[key] = {k: np.asarray(v, dtype=np.intp) for k, v in grouped.items()}
    # Keyed by (is it a boolean, value): JSON's true is not 1, though Python finds them equal.
    return index.get((type(value) is bool, value), np.empty(0, dtype=np.intp))


def _condition(key: str, condition: Any) -> Callable[[dict[str, Any]], bool]:
    if isinstance(condition, dict):
        unknown = [op for op in condition if op not in _COMPARISONS]
        if unknown:
            raise VectorStoreError(f"unknown filter operator {unknown[0]!r} on {key!r}")
        checks = [(_COMPARISONS[op], operand) for op, operand in condition.items()]
        return lambda meta: key in meta and all(check(meta[key], operand) for check, operand in checks)
    return lambda meta: meta.get(key) == condition
