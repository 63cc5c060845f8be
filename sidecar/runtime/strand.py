"""A run's work as one strand that can wait for a script without holding the event loop.

A run's Python work (frames, callbacks, the request) is synchronous: a Function node calls its script
and replays the effects before the frame goes on. Scripts run in worker threads (``jsthreads``); when
one takes longer than a short wait, the run's work must pause where it stands and let the loop serve
other requests meanwhile. Each piece of a run's work therefore runs in a greenlet (a stack that can be
switched away from) on the loop thread: waiting for a script switches back to the loop, and the
script's end switches into the stack again. While a run is paused its other work waits in order, so
the run sees its events in the same order as before; other runs go on.

Greenlets are kept and reused: making one costs ~17 µs, switching ~0.5 µs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from greenlet import GreenletExit, getcurrent  # type: ignore[import-untyped]
from greenlet import greenlet as Greenlet

_DONE = object()
_idle = threading.local()  # per thread: greenlets waiting for work


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _strand_main(strand: Strand, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
    """The body of a reusable greenlet: run one piece of work, report, wait for the next."""
    while True:
        strand._started = time.perf_counter()
        try:
            callback(*args)
            report: object = _DONE
        except GreenletExit:  # the greenlet is being collected (its run was abandoned): let it end
            raise
        except BaseException as error:  # handed to whoever switched in, as a plain call would raise
            report = _Failed(error)
        del callback, args
        strand, callback, args = getcurrent().parent.switch(report)


def _take_greenlet() -> Any:
    idle: list[Any] | None = getattr(_idle, "greenlets", None)
    if idle is None:
        idle = _idle.greenlets = []
    return idle.pop() if idle else Greenlet(_strand_main)


def _give_back(g: Any) -> None:
    idle: list[Any] = _idle.greenlets
    if len(idle) < 64:
        idle.append(g)


class Strand:
    """Runs one run's work pieces one at a time, each able to pause while a script runs elsewhere."""

    __slots__ = ("_loop", "_paused", "_started", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._paused: Any = None  # the greenlet waiting for a script, if any
        self._waiting: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._started = 0.0  # when the current piece (or its resumption) got the loop thread

    def run(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` as a piece of this run's work: now, or after the paused piece ends."""
        if _owners.get(getcurrent()) is self:
            callback(*args)  # already a piece of this run: a plain nested call
            return
        if self._paused is not None:
            self._waiting.append((callback, args))
            return
        self._follow(*self._switch_in(_take_greenlet(), self, callback, args))

    def inside(self) -> bool:
        """Whether the caller runs as a piece of this strand (so it may pause)."""
        return _owners.get(getcurrent()) is self

    def elapsed(self) -> float:
        """Seconds the current piece has held the loop thread since it started or resumed."""
        return time.perf_counter() - self._started

    def pause_until(self, future: Future[Any]) -> None:
        """Give the loop back until ``future`` is done (only from inside a piece of this strand)."""
        getcurrent().parent.switch(future)

    def _switch_in(self, g: Any, *message: Any) -> tuple[Any, object]:
        if len(message) == 3:  # a new piece: it runs in the caller's context variables
            g.gr_context = contextvars.copy_context()
            _owners[g] = self
        g.parent = getcurrent()  # reports come back to whoever switched in
        return g, g.switch(*message)

    def _follow(self, g: Any, report: object) -> None:
        """After piece ``g`` switched back: keep it paused, or finish it and start the next."""
        while True:
            if isinstance(report, Future):
                self._paused = g
                report.add_done_callback(self._wake)
                return
            del _owners[g]
            _give_back(g)
            if isinstance(report, _Failed):
                if self._waiting:
                    self._loop.call_soon(self._next)
                raise report.error
            if not self._waiting:
                return
            callback, args = self._waiting.popleft()
            g, report = self._switch_in(_take_greenlet(), self, callback, args)

    def _next(self) -> None:
        if self._paused is None and self._waiting:
            callback, args = self._waiting.popleft()
            self._follow(*self._switch_in(_take_greenlet(), self, callback, args))

    def _wake(self, future: Future[Any]) -> None:
        """In the worker thread: the script is done; resume the piece on the loop thread."""
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing is left to resume
            self._loop.call_soon_threadsafe(self._resume, future)

    def _resume(self, future: Future[Any]) -> None:
        g, self._paused = self._paused, None
        self._started = time.perf_counter()
        self._follow(*self._switch_in(g, future))


# Which strand a greenlet is running a piece of (greenlets are reused across runs).
_owners: dict[Any, Strand] = {}
