"""The AI nodes' big libraries, imported in a worker thread rather than on the event loop.

The vendor SDKs and LangGraph are imported on first use, so a backend without AI nodes never pays for
them (``chat``). That first use comes inside a request on the event loop, and the imports are long:
measured here, ``anthropic`` ~1.2 s of CPU, LangGraph ~0.7 s, ``openai`` ~0.35 s, and a multiple of
that in wall time on a loaded machine. Done on the loop, they held every other request, event stream
and IPC answer of the process for that long (``loop_lag`` 0.5-1.3 s in the demo). An AI call therefore
awaits :func:`load` first: the import runs in a thread while the loop serves on, and later calls find
the modules loaded and go on at once.
"""

from __future__ import annotations

import asyncio
import importlib

_loaded: set[str] = set()  # modules this process has finished importing through load()


async def load(*modules: str) -> None:
    """Import ``modules`` off the event loop (once; afterwards this returns at once)."""
    missing = [name for name in modules if name not in _loaded]
    if not missing:
        return
    await asyncio.to_thread(_import_all, missing)
    _loaded.update(missing)


def _import_all(modules: list[str]) -> None:
    # Two first calls at once both come here; the second waits on the import lock in its own thread.
    for name in modules:
        importlib.import_module(name)
