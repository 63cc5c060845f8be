"""The Python runtime: user Python of Python nodes, run in a pool of isolated worker processes.

This package owns the sidecar's side: the pool of warm workers (``pool``), their limits (wall
time, CPU, memory), their scrubbed environment and scratch folder, replacing and recycling them,
and the hidden ``python-worker`` command that loads the worker (``worker_entry``). What runs inside
a worker (the call loop, output capture, the rlimits it sets on itself) lives in
``runtimes/python/worker.py``. The nodes that use the pool are in ``sidecar.runtime.nodes.python``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidecar.python_runtime.pool import CallResult, PoolLimits, PythonLimitError, PythonPool

__all__ = ["CallResult", "PoolLimits", "PythonLimitError", "PythonPool", "shared_pool"]
_POOL_NAMES = frozenset(["CallResult", "PoolLimits", "PythonLimitError", "PythonPool"])


def __getattr__(name: str) -> Any:
    # The pool (asyncio, structlog) loads on first use, not with the package: a worker process loads
    # this package for ``worker_entry`` alone, and each module it skips is start time and idle memory.
    if name in _POOL_NAMES:
        from sidecar.python_runtime import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_shared: PythonPool | None = None


def shared_pool() -> PythonPool:
    """The pool of runs given none (``noodl-sidecar run``, runtimes built without a backend).

    Its scratch folder is a private folder under the system's temporary directory; a backend's
    runtimes get their own pool, with a scratch folder in the backend's data directory.
    """
    from sidecar.python_runtime.pool import PythonPool

    global _shared
    if _shared is None or _shared.closed:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        _shared = PythonPool(Path(tempfile.gettempdir()) / f"noodl-sidecar-python-{uid}")
    return _shared
