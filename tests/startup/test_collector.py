"""The cyclic collector is paused while a starting sidecar imports what it serves with, and always runs
again, with the sidecar's thresholds, once those imports are done, even when one of them failed: a
collector left off would let cyclic garbage pile up for the whole session. Each case runs in a fresh
interpreter, as the sidecar does (the preload is once per process)."""

from __future__ import annotations

import json
import subprocess
import sys

from sidecar.preload import GC_THRESHOLDS
from tests.conftest import PROJECT_ROOT


def _collector_after(services: str) -> dict[str, object]:
    script = (
        "import asyncio, gc, json\n"
        "from sidecar import preload\n"
        f"preload.SERVICE_MODULES = {services}\n"
        "preload.hold_collector()\n"
        "held = gc.isenabled()\n"
        "async def load():\n"
        "    try:\n"
        "        await preload.services_loaded()\n"
        "        return None\n"
        "    except ImportError as exc:\n"
        "        return type(exc).__name__\n"
        "error = asyncio.run(load())\n"
        "print(json.dumps({'held': held, 'enabled': gc.isenabled(), 'thresholds': gc.get_threshold(),\n"
        "                  'frozen': gc.get_freeze_count() > 0, 'error': error}))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    result: dict[str, object] = json.loads(ran.stdout.strip().splitlines()[-1])
    return result


def test_the_collector_is_held_during_the_imports_and_settled_after_them() -> None:
    after = _collector_after('("aiohttp.web", "sidecar.store", "sidecar.web")')

    assert after == {
        "held": False,
        "enabled": True,
        "thresholds": list(GC_THRESHOLDS),
        "frozen": True,
        "error": None,
    }


def test_a_failed_import_does_not_leave_the_collector_off() -> None:
    after = _collector_after('("sidecar.store", "sidecar.no_such_module")')

    assert after["error"] == "ModuleNotFoundError"
    assert after["enabled"] is True
    assert after["thresholds"] == list(GC_THRESHOLDS)
