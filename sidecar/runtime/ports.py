"""Port declarations: what a node type accepts and offers, with its editor-facing metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sidecar.runtime.values import UNDEFINED

# Handlers take the concrete node subclass, hence ``Any`` for the node parameter.
Setter = Callable[[Any, Any], None]
SignalHandler = Callable[[Any], None]
Getter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input. ``on_signal`` makes it edge-triggered: the handler runs on a false→true change."""

    name: str
    type: Any = "*"
    set: Setter | None = None
    on_signal: SignalHandler | None = None
    default: Any = UNDEFINED
    display_name: str | None = None
    group: str | None = None
    priority: int = 0
    # ``set`` when setting a value is all the input does (not a signal, not an array input, whose
    # string values are evaluated first): the node's drain then calls it without set_input.
    plain_set: Setter | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.on_signal is None and self.type != "array":
            object.__setattr__(self, "plain_set", self.set)

    @property
    def is_signal(self) -> bool:
        return self.on_signal is not None or self.type == "signal"

    def describe(self) -> dict[str, Any]:
        return _describe(self.name, "input", self.type, self.default, self.display_name, self.group)


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One output; ``get`` reads its current value (signals have none)."""

    name: str
    type: Any = "*"
    get: Getter | None = None
    display_name: str | None = None
    group: str | None = None

    def describe(self) -> dict[str, Any]:
        return _describe(self.name, "output", self.type, UNDEFINED, self.display_name, self.group)


def _describe(
    name: str, plug: str, type_: Any, default: Any, display: str | None, group: str | None
) -> dict[str, Any]:
    port: dict[str, Any] = {"name": name, "plug": plug, "type": type_, "displayName": display or name}
    if default is not UNDEFINED:
        port["default"] = default
    if group:
        port["group"] = group
    return port
