"""Noticing that the process that started us is gone (docs/protocol.md, "Transport").

Layers, first to fire wins: stdin EOF (stdio mode, handled by the transport), Linux's
parent-death signal, and a poll of the parent's pid. The poll compares against the pid
we were given rather than ``ppid == 1``, because subreapers and launchers sit between.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Callable

POLL_INTERVAL_S = 0.25
_PR_SET_PDEATHSIG = 1


def arm_parent_death_signal() -> bool:
    """Ask Linux to send SIGTERM when our parent thread exits; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the state letter follows the command name, which is in parentheses
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


async def watch_parent(parent_pid: int | None, on_gone: Callable[[str], None]) -> None:
    """Call ``on_gone`` once when ``parent_pid`` dies or we are re-parented."""
    original_ppid = os.getppid()
    while True:
        await asyncio.sleep(POLL_INTERVAL_S)
        if parent_pid is not None and not pid_alive(parent_pid):
            on_gone(f"parent process {parent_pid} is gone")
            return
        if sys.platform != "win32" and os.getppid() != original_ppid:
            on_gone(f"re-parented: parent process {original_ppid} is gone")
            return
