"""Load what every backend start needs once, off the event loop, right after the handshake.

Only the door and the store are preloaded: every backend serves them. The rest (the graph
runtime and its JavaScript engine, monitoring's Prometheus registry, credentials, deploy,
debugging, the Python workers) is made on first use (``sidecar.lazy``), on the loop thread,
after ``services_loaded()``: two threads importing the same package at once can see it
half-initialised (the runtime's node registry is built by imports).
"""

from __future__ import annotations

import asyncio
import gc
import importlib

SERVICE_MODULES = ("aiohttp.web", "sidecar.store", "sidecar.web")

_preload: asyncio.Future[None] | None = None


# A run allocates many short-lived objects; with the default thresholds the collector's
# young-generation passes dominate bursts of concurrent runs (measured: 1,000 sum3 runs
# 668 ms → 470 ms). Imported modules never die, so they move out of its way.
GC_THRESHOLDS = (50_000, 20, 100)


def hold_collector() -> None:
    """Pause the cyclic collector while the process imports what it serves with; ``settle_collector``
    turns it back on. Imports make ~100,000 long-lived objects and almost no cyclic garbage (~1,700
    objects), yet with the default thresholds the collector ran ~140 times over them, a full pass
    included: ~35 ms of a ~500 ms cold start (spawn → initialize → first backend:start)."""
    gc.disable()


def settle_collector() -> None:
    """What is alive now (the imported modules) moves out of the collector's way for good, young
    generations are collected less often (``GC_THRESHOLDS``), and the collector runs (again, after
    ``hold_collector``). Benches that drive parts of the sidecar without starting it call this too, so
    they measure the collector the sidecar runs with."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()


def _import_services() -> None:
    try:
        for module in SERVICE_MODULES:
            importlib.import_module(module)
    finally:
        settle_collector()  # also after a failed import: the collector must not stay held


def start_preloading() -> None:
    """Begin importing in a worker thread (idempotent)."""
    global _preload
    if _preload is None:
        _preload = asyncio.ensure_future(asyncio.to_thread(_import_services))


async def services_loaded() -> None:
    """Return once every service module is imported."""
    start_preloading()
    assert _preload is not None
    await asyncio.shield(_preload)
