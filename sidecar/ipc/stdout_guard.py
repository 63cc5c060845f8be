"""Keep the standard streams for the protocol alone.

Called first thing in ``noodl-sidecar stdio``, before anything else is imported:

* the real stdout is duplicated to a private descriptor for msgpack frames, and fd 1
  is pointed at stderr, so a stray ``print()``, a library banner or a C extension
  writing to fd 1 lands in the log instead of corrupting the stream;
* the real stdin is duplicated the same way and fd 0 becomes /dev/null, so a child
  process can neither steal protocol bytes nor hold the pipe open after the editor
  dies (which would hide the EOF we use to notice that). See docs/protocol.md, "Transport".
"""

from __future__ import annotations

import os
import sys


def claim_stdio() -> tuple[int, int]:
    """Return private (read, write) descriptors for the protocol."""
    sys.stdout.flush()
    write_fd = os.dup(1)
    read_fd = os.dup(0)
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)
    os.dup2(2, 1)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)
    sys.stdout = sys.stderr
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows builds only
        import msvcrt

        msvcrt.setmode(write_fd, os.O_BINARY)
        msvcrt.setmode(read_fd, os.O_BINARY)
    return read_fd, write_fd
