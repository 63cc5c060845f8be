"""A backend holds its ``RunningExecutions`` from the start, before the runtime and the history load
(the preload thread imports them meanwhile: importing them here too raced it into a circular import)."""

from __future__ import annotations

import subprocess
import sys


def test_running_executions_load_neither_the_runtime_nor_the_history() -> None:
    script = (
        "import sys\n"
        "from sidecar.debugging.running import RunningExecutions\n"
        "RunningExecutions()\n"
        "loaded = [m for m in sys.modules if m.startswith(('sidecar.runtime', 'sidecar.history'))]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
