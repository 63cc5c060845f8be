"""Load the heavy service modules once, off the event loop, right after the handshake.

Two threads importing the same package at once can see it half-initialised (the
runtime's node registry is built by imports), so every lazy import of a service goes
through ``services_loaded()``, which waits for the one preload instead of racing it.
"""

from __future__ import annotations

import asyncio
import importlib

SERVICE_MODULES = ("aiohttp.web", "sidecar.store", "sidecar.web", "sidecar.runtime.runtime")

_preload: asyncio.Future[None] | None = None


def _import_services() -> None:
    for module in SERVICE_MODULES:
        importlib.import_module(module)


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
