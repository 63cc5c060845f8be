"""Models named in the catalog without importing the module that declares them.

Creating the ~200 pydantic classes of every channel cost a starting sidecar ~50 ms of CPU before it
could answer ``initialize``, while a session uses a few channels. The catalog therefore names the
models of channels a session may never call through ``models_of("github")``: ``gh.SignInParams`` is
then a ``DeferredModel``, which imports ``ipc_schema.github`` the first time its class is needed
(``MethodSpec.params`` / ``result``: when the method is first called, or by the generator).
"""

from __future__ import annotations

import importlib
from typing import Any


class DeferredModel:
    """``module.name``, imported and kept the first time ``resolve()`` is called."""

    __slots__ = ("_resolved", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._resolved: Any = None

    def resolve(self) -> Any:
        if self._resolved is None:
            self._resolved = getattr(importlib.import_module(self.module), self.name)
        return self._resolved

    def __repr__(self) -> str:
        return f"DeferredModel({self.module}.{self.name})"


class DeferredModels:
    """Stands for a schema module in the catalog: each attribute is a ``DeferredModel`` of it."""

    __slots__ = ("_module",)

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> DeferredModel:
        if name.startswith("__"):  # copy, pickle and friends probing for protocols
            raise AttributeError(name)
        return DeferredModel(self._module, name)


def models_of(schema_module: str) -> Any:
    """``ipc_schema.<schema_module>``'s models, each imported when first resolved (typed as the module
    by the catalog's ``TYPE_CHECKING`` imports)."""
    return DeferredModels(f"ipc_schema.{schema_module}")


def resolve(value: Any) -> Any:
    """A catalog entry's model: the class itself, or what a ``DeferredModel`` names."""
    return value.resolve() if isinstance(value, DeferredModel) else value
