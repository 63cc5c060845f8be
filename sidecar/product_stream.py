"""stdout for a command's one product: ``run``'s JSON answer line, ``serve``'s READY line, ``doctor``'s
report. (``stdio`` claims both standard streams for its protocol in ``sidecar.ipc.stdout_guard``.)"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def claim_stdout() -> TextIO:
    """A text stream on the real stdout for the product; fd 1 and ``sys.stdout`` then point at stderr,
    so log lines, a stray ``print()`` or a child process can never add a line to the product."""
    sys.stdout.flush()
    product_fd = os.dup(1)
    os.set_inheritable(product_fd, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(product_fd, "w", encoding="utf-8")
