"""AI figures (issue 24): the vector store at 100,000 vectors of 384 dimensions (upsert throughput, top-10
query p50/p99, with and without a metadata filter), and streamed tokens reaching a Node client over stdio.

Streaming: the local stand-in model (``tests/ai/vendor_servers.py``) stamps every chunk with the epoch time it
left; the client times each ``execution:step`` progress event against the newest chunk in it. Progress is
coalesced to at most 20 events a second per step, so a chunk that arrives just after an event waits up to
50 ms for the next one: that wait is reported apart (``oldest_chunk_*``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sidecar.ai.vectors import VectorStore

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "js" / "bench-ai-stream.mjs"
SOURCE = [str(ROOT / ".venv" / "bin" / "noodl-sidecar"), "stdio"]
DIMENSIONS = 384


def run(quick: bool) -> dict[str, Any]:
    vectors = asyncio.run(_vector_store(10_000 if quick else 100_000))
    stream = _streaming(runs=3 if quick else 20)
    return {
        "vector_store": vectors,
        "streaming": stream,
        "targets": {"vector_top10_p50_ms": 50, "stream_p99_ms": 50},
    }


async def _vector_store(count: int) -> dict[str, Any]:
    import numpy as np

    generator = np.random.default_rng(7)
    matrix = generator.standard_normal((count, DIMENSIONS), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        store = VectorStore(Path(folder))
        started = time.perf_counter()
        for first in range(0, count, 1000):
            items = [
                {"id": f"v{i}", "vector": matrix[i].tolist(), "metadata": {"shard": i % 10}}
                for i in range(first, min(first + 1000, count))
            ]
            await store.upsert("bench", items)
        upsert_seconds = time.perf_counter() - started
        load_started = time.perf_counter()
        await store.query("bench", matrix[0].tolist(), 10)
        load_ms = (time.perf_counter() - load_started) * 1000
        plain = await _timed(store, matrix, None)
        filtered = await _timed(store, matrix, {"shard": 3})
    return {
        "vectors": count,
        "dimensions": DIMENSIONS,
        "upsert_vectors_per_second": round(count / upsert_seconds),
        "first_query_ms_with_load": round(load_ms, 1),
        "top10_p50_ms": plain[0],
        "top10_p99_ms": plain[1],
        "top10_filtered_p50_ms": filtered[0],
        "top10_filtered_p99_ms": filtered[1],
    }


async def _timed(store: VectorStore, matrix: Any, where: dict[str, Any] | None) -> tuple[float, float]:
    times = []
    for i in range(100):
        probe = matrix[(i * 7919) % len(matrix)].tolist()
        started = time.perf_counter()
        await store.query("bench", probe, 10, where)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return round(statistics.median(times), 2), round(times[98], 2)


def _streaming(runs: int) -> dict[str, Any]:
    model = subprocess.Popen(
        [sys.executable, "-m", "tests.ai.vendor_servers"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert model.stdout is not None
        url = model.stdout.readline().strip()
        out = subprocess.run(
            ["node", str(CLIENT), json.dumps(SOURCE), url, "--runs", str(runs)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    finally:
        if model.stdin is not None:
            model.stdin.close()
        model.wait(timeout=10)
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures
