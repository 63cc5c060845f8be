"""Random ids cut from one 4 KB draw of OS randomness at a time, per thread.

As unpredictable as drawing each id (or each character) from ``os.urandom``/``secrets``, but one
``getrandom`` call serves hundreds of ids: a call per id released and retook the GIL each time, a large
part of hot paths that make ids (batched record creates, runs that create objects). Per thread, so no
two threads ever share a draw.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

DRAW_BYTES = 4096


class RandomBatches(threading.local):
    """``take()`` returns the next id that ``cut`` made from a draw of ``DRAW_BYTES`` random bytes."""

    def __init__(self, cut: Callable[[bytes], list[str]]) -> None:
        self._cut = cut
        self._ready: list[str] = []

    def take(self) -> str:
        if not self._ready:
            self._ready = self._cut(os.urandom(DRAW_BYTES))
        return self._ready.pop()
