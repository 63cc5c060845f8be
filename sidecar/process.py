"""Noticing that the process that started us is gone (docs/protocol.md, "Lifecycle").

Layers, first to fire wins: stdin EOF (stdio mode, handled by the transport), Linux's
parent-death signal (stdio mode), and a watch on a pid we were given. The watch waits on a
pidfd where the kernel has them, so a death is seen at once rather than at the next poll
(a poll stays as the fallback), and it only ever watches a pid someone named: ``serve``
started from a shell must outlive that shell unless ``--parent-pid`` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import select
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable

POLL_INTERVAL_S = 0.1
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


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux ≥ 5.3), or None."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None
    os.set_inheritable(fd, False)
    return fd


async def watch_parent(parent_pid: int | None, on_gone: Callable[[str], None]) -> None:
    """Call ``on_gone`` once when ``parent_pid`` dies; with no pid there is nothing to watch.

    When the pid is our own parent, being re-parented counts as its death too: that check
    cannot be fooled by the pid being reused.
    """
    if parent_pid is None:
        return
    loop = asyncio.get_running_loop()
    direct = sys.platform != "win32" and parent_pid == os.getppid()
    exited = asyncio.Event()
    pidfd = _open_pidfd(parent_pid)
    if pidfd is not None:
        try:
            loop.add_reader(pidfd, exited.set)
        except (OSError, NotImplementedError):
            os.close(pidfd)
            pidfd = None
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(exited.wait(), POLL_INTERVAL_S)
            if exited.is_set() or not pid_alive(parent_pid) or (direct and os.getppid() != parent_pid):
                on_gone(f"parent process {parent_pid} is gone")
                return
    finally:
        if pidfd is not None:
            loop.remove_reader(pidfd)
            os.close(pidfd)


_STARTUP_POLL_S = 0.01


def watch_input_during_startup(read_fd: int) -> Callable[[], None]:
    """Exit at once if the protocol's input is closed while the program is still importing.

    The editor that spawned us may die in the first instants, before any handler exists (its
    stdin then hangs up). Waiting for the imports to finish to notice would take as long as
    they do, a second or more on a loaded machine. Only a definite end counts: a hang-up with
    no data left to read. Returns the function that stops the watch (call it once the event
    loop reads the input itself).
    """
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(_STARTUP_POLL_S):
            if _input_closed(read_fd) and not stop.is_set():
                os.write(2, _startup_exit_line())
                os._exit(1)

    threading.Thread(target=run, name="startup-input-watch", daemon=True).start()
    return stop.set


def _startup_exit_line() -> bytes:
    """The ``exiting`` log line, written by hand: logging is not set up yet at this point."""
    import datetime
    import json

    record = {
        "code": 1,
        "reason": "stdin closed during start-up",
        "event": "exiting",
        "level": "info",
        "ts": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "pid": os.getpid(),
    }
    return json.dumps(record).encode() + b"\n"


def _input_closed(fd: int) -> bool:
    if not hasattr(select, "poll"):
        return False
    hang_up = select.POLLHUP | getattr(select, "POLLRDHUP", 0)
    poller = select.poll()
    poller.register(fd, select.POLLIN | hang_up)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    revents = events[0][1] if events else 0
    if not revents & hang_up:
        return False
    if not revents & select.POLLIN:
        return True
    return _socket_at_eof(fd)  # readable and hung up: data still to read, or (a socket) the end


def _socket_at_eof(fd: int) -> bool:
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return False
        with socket.socket(fileno=os.dup(fd)) as peer:
            return peer.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except OSError:
        return False
