"""Records-store figures: create throughput (one by one, concurrent, batched), indexed equality and range
queries over N rows (p50/p99), a full-scan filter, and the latency tail of 20,000 steady creates.

``run(quick=True)`` uses small sizes so the smoke test finishes in seconds; the full run uses 100,000 rows.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sidecar.store import BatchMethod, BatchOp, CallerContext, QueryOptions, SqliteRecordStore

MASTER = CallerContext.master()


def _row(i: int) -> dict[str, Any]:
    return {"n": i, "bucket": i % 1000, "name": f"row-{i:07d}", "flag": i % 2 == 0, "tags": [f"t{i % 10}"]}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


async def _batched(store: SqliteRecordStore, class_name: str, rows: int, batch_size: int) -> float:
    """Rows per second through transactional batches of ``batch_size`` creates."""
    start = time.perf_counter()
    for offset in range(0, rows, batch_size):
        ops = [BatchOp(BatchMethod.CREATE, class_name, _row(i)) for i in range(offset, offset + batch_size)]
        await store.batch(ops, MASTER, transaction=True)
    return rows / (time.perf_counter() - start)


async def _timings(calls: int, make: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        await make(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


async def _create_stalls(path: Path, creates: int) -> dict[str, float]:
    """One client creating records one after another, as fast as it can: the slow tail of that load (the
    WAL used to be checkpointed inside the COMMIT that crossed its threshold: 27-56 ms, once per ~2,000)."""
    store = await SqliteRecordStore.open(path)
    try:
        samples = []
        for i in range(creates):
            start = time.perf_counter()
            await store.create("Steady", {"n": i, "name": f"item {i}"}, MASTER)
            samples.append((time.perf_counter() - start) * 1000)
        wal_bytes = path.with_name(path.name + "-wal").stat().st_size
    finally:
        await store.close()
    samples.sort()
    return {
        "creates": creates,
        "p50_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[int(len(samples) * 0.99)], 3),
        "p999_ms": round(samples[int(len(samples) * 0.999)], 3),
        "max_ms": round(samples[-1], 1),
        "over_5ms": sum(1 for sample in samples if sample > 5),
        "wal_mb": round(wal_bytes / 1e6, 1),
    }


async def _bench(directory: Path, quick: bool) -> dict[str, object]:
    singles, rows, batch_size, queries = (300, 5_000, 1_000, 50) if quick else (3_000, 100_000, 1_000, 1_000)
    store = await SqliteRecordStore.open(directory / "bench.db")
    try:
        await store.create_class(
            "Item",
            {
                "fields": {
                    "n": {"type": "Number"},
                    "bucket": {"type": "Number"},
                    "name": {"type": "String"},
                    "flag": {"type": "Boolean"},
                    "tags": {"type": "Array"},
                },
                "indexes": {"bucket_1": {"bucket": 1}, "n_1": {"n": 1}},
            },
        )
        start = time.perf_counter()
        for i in range(singles):
            await store.create("Single", _row(i), MASTER)
        single_rate = singles / (time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(store.create("Concurrent", _row(i), MASTER) for i in range(singles)))
        concurrent_rate = singles / (time.perf_counter() - start)

        plain_rate = await _batched(store, "Plain", rows, batch_size)  # no declared indexes
        indexed_rate = await _batched(store, "Item", rows, batch_size)  # two declared indexes, queried below

        indexed = await _timings(
            queries, lambda i: store.query("Item", QueryOptions(where={"bucket": i % 1000}), MASTER)
        )
        ranged = await _timings(
            queries,
            lambda i: store.query(
                "Item",
                QueryOptions(where={"n": {"$gte": (i * 97) % rows, "$lt": (i * 97) % rows + 50}}),
                MASTER,
            ),
        )
        scans = await _timings(
            10 if quick else 30,
            lambda i: store.query("Item", QueryOptions(where={"name": f"row-{rows - 1 - i:07d}"}), MASTER),
        )
        counted = await _timings(
            5 if quick else 20, lambda i: store.count("Item", {"flag": True, "tags": "t3"}, MASTER)
        )
        return {
            "machine": {
                "cpu": _cpu_name(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
            },
            "rows": rows,
            "single_creates_per_s": round(single_rate),
            "concurrent_creates_per_s": round(concurrent_rate),
            "batched_rows_per_s": round(plain_rate),
            "batched_rows_per_s_two_indexes": round(indexed_rate),
            "indexed_equality": indexed,
            "indexed_range_50_rows": ranged,
            "full_scan_equality": scans,
            "full_scan_count_array_element": counted,
            "steady_single_client_creates": await _create_stalls(
                directory / "steady.db", 2_000 if quick else 20_000
            ),
        }
    finally:
        await store.close()


def run(quick: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="store-bench-") as directory:
        return asyncio.run(_bench(Path(directory), quick))


if __name__ == "__main__":
    import json
    import sys

    sys.stderr.write(json.dumps(run("--quick" in sys.argv), indent=2) + "\n")
