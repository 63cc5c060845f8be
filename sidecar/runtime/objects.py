"""Request-scoped Noodl objects (``Noodl.Object``/``Noodl.Objects``): a model scope per run."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from sidecar.random_batches import RandomBatches
from sidecar.runtime.values import UNDEFINED, strict_equals

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 10
# A random byte below 248 (4 * 62) names a character, each equally likely; the bytes above are dropped.
_BYTE_TO_CHAR = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))
_DROPPED_BYTES = bytes(range(248, 256))

ChangeListener = Callable[["Model", str, Any], None]


def _object_ids(draw: bytes) -> list[str]:
    """Ids of ten equally likely alphanumerics from the bytes of ``draw`` below 248."""
    text = draw.translate(_BYTE_TO_CHAR, _DROPPED_BYTES).decode("ascii")
    return [text[i : i + _ID_LENGTH] for i in range(0, len(text) - _ID_LENGTH + 1, _ID_LENGTH)]


new_object_id = RandomBatches(_object_ids).take
"""Ten random alphanumerics, as the real runtime generates for new objects."""


class Model:
    """A Noodl object: an id and ordered properties; serialises as its data plus ``id``."""

    __slots__ = ("_listeners", "_scope", "data", "id")

    def __init__(
        self, model_id: str, data: dict[str, Any] | None = None, scope: ModelScope | None = None
    ) -> None:
        self.id = model_id
        self.data: dict[str, Any] = data if data is not None else {}
        self._listeners: list[ChangeListener] = []
        self._scope = scope

    def get(self, key: str) -> Any:
        return self.data.get(key, UNDEFINED)

    def set(self, key: str, value: Any) -> None:
        if strict_equals(self.data.get(key, UNDEFINED), value):
            return
        self.data[key] = value
        if self._scope is not None:
            self._scope.changed.add(self.id)
        for listener in list(self._listeners):
            listener(self, key, value)

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def off_change(self, listener: ChangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.data.items() if k != "id"}, "id": self.id}

    def __repr__(self) -> str:
        return f"Model({self.id!r}, {self.data!r})"


class ModelScope:
    """All objects of one run; ``get`` creates on first use like ``Noodl.Objects[id]``."""

    __slots__ = ("_models", "changed")

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}
        # Ids changed on the Python side since the JavaScript mirror last saw them.
        self.changed: set[str] = set()

    def get(self, model_id: str) -> Model:
        model = self._models.get(model_id)
        if model is None:
            model = self._models[model_id] = Model(model_id, scope=self)
            self.changed.add(model_id)
        return model

    def put(self, model_id: str, data: dict[str, Any]) -> Model:
        """A new object holding ``data`` as is (nobody can listen to it yet)."""
        model = self._models[model_id] = Model(model_id, data, scope=self)
        self.changed.add(model_id)
        return model

    def find(self, model_id: str) -> Model | None:
        return self._models.get(model_id)

    def create(self, data: dict[str, Any] | None = None, model_id: str | None = None) -> Model:
        model = self.get(model_id or new_object_id())
        for key, value in (data or {}).items():
            model.set(key, value)
        return model

    def all(self) -> list[Model]:
        return list(self._models.values())

    def clear(self) -> None:
        self._models.clear()
        self.changed.clear()
