"""Subsystems made on first use, so a process loads only what it serves.

A start has to bind the port and answer READY (or ``backend:start``) quickly, and most backends
never use most subsystems: the graph runtime and its JavaScript engine until a function is
deployed or called, Prometheus until ``/metrics`` is scraped, the Python worker pool until a
Python node runs, the cipher of stored credentials until a credential is read or written. Each
such subsystem is held as ``Lazy(factory)``: the factory is the one place that imports it, and
it runs the first time ``get()`` is called. ``tests/startup/test_lazy_subsystems.py`` checks that a
started ``serve`` has imported none of them.

A factory runs once even when two threads ask at the same time (a credential store is read from a
worker thread): the second waits for the first.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """A value built by ``factory`` the first time it is needed, then kept."""

    __slots__ = ("_factory", "_lock", "_made", "_value")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._made = False
        self._lock = threading.Lock()

    def get(self) -> T:
        if not self._made:
            with self._lock:
                if not self._made:
                    self._value = self._factory()
                    self._made = True
        return self._value  # type: ignore[return-value]  # made: the factory's T (which may be None)

    @property
    def made(self) -> bool:
        """True once ``get()`` has built the value (close only what was opened)."""
        return self._made

    def peek(self) -> T | None:
        """The value if it was made, else None, without making it."""
        return self._value if self._made else None


class LazyModule:
    """A module imported the first time one of its attributes is read, then read through on every access.

    The IPC handlers name the protocol models of channels a session may never call this way
    (``ipc_schema.deferred`` explains why); their type annotations import the real module under
    ``TYPE_CHECKING``. The import system's own locks make the first read safe from any thread.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # copy, pickle and friends probing for protocols
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self._name), attribute)
