"""``noodl-sidecar python-worker``: load the worker (``runtimes/python/worker.py``) and serve the pool.

The worker file is found the way the JavaScript prelude is: beside the frozen modules in the
PyInstaller binary (``sys._MEIPASS/runtimes/python``), else at the top of the source tree. It is
loaded by path so the worker imports nothing of the sidecar.
"""

from __future__ import annotations

# The standard-library modules the worker file imports, named here so that PyInstaller's analysis,
# which cannot see inside a file loaded by path, bundles them.
import ast  # noqa: F401
import importlib.util
import inspect  # noqa: F401
import io  # noqa: F401
import logging  # noqa: F401
import math  # noqa: F401
import re  # noqa: F401
import sys
import traceback  # noqa: F401
import types  # noqa: F401

if sys.platform != "win32":
    import resource  # noqa: F401
from pathlib import Path

WORKER_FILE = (
    Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2])) / "runtimes" / "python" / "worker.py"
)


def main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("noodl_python_worker", WORKER_FILE)
    if spec is None or spec.loader is None:
        sys.stderr.write(f"noodl-sidecar python-worker: cannot load {WORKER_FILE}\n")
        return 2
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code: int = module.main(argv)
    return code
