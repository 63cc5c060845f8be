"""A stdio sidecar answers ``initialize`` with only the protocol models every session uses (the handshake
and the backend channels); the models of the other channels (GitHub, deploy, security, history, …) are
imported when one of their methods is first called (``ipc_schema.deferred``), and answer as before."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

DEFERRED = (
    "ipc_schema.credentials",
    "ipc_schema.debugging",
    "ipc_schema.deploy",
    "ipc_schema.github",
    "ipc_schema.history",
    "ipc_schema.migrate",
    "ipc_schema.monitoring",
    "ipc_schema.projects",
    "ipc_schema.python",
    "ipc_schema.security",
    "ipc_schema.transfer",
    "ipc_schema.triggers",
)

# What serve() builds before it reads the first message, in a fresh interpreter; then the first calls
# of a GitHub method: its params are validated and its result dumped through the catalog's models.
SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry
from sidecar.stdio_main import build_method_table
table = build_method_table(
    BackendManager(BackendRegistry(Path(tempfile.mkdtemp()) / "backends"), lambda change: None),
    lambda method, params: None,
    diagnostics=False,
)
bound_loaded = sorted(sys.modules)
method = table.get("github:list-issues")
params = method.parse_params(["octo", "hello"])
loaded = sorted(sys.modules)
dumped = table.get("github:sign-out").dump_result({"signedOut": True})
print(json.dumps({
    "names": table.names(),
    "bound": bound_loaded,
    "called": loaded,
    "params": type(params).__module__ + "." + type(params).__name__,
    "dumped": dumped,
}))
"""


def test_only_the_handshake_and_backend_models_load_before_a_call_needs_the_others() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    seen = json.loads(ran.stdout.strip().splitlines()[-1])

    assert [name for name in DEFERRED if name in seen["bound"]] == []
    assert "ipc_schema.backends" in seen["bound"]
    assert "ipc_schema.lifecycle" in seen["bound"]
    # Every channel is bound (and listed in initialize's capabilities) all the same.
    assert {"github:list-issues", "deploy:run", "backend:setPermissions", "credentials:list"} <= set(
        seen["names"]
    )
    assert "ipc_schema.github" in seen["called"]
    assert seen["params"] == "ipc_schema.github.ListParams"
    assert seen["dumped"] == {"signedOut": True}
