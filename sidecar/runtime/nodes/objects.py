"""Request-scoped objects: Object (Model2), Set Object Properties, Create New Object."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.objects import Model
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_string, strict_equals

ID_SOURCE_TYPE = {
    "name": "enum",
    "enums": [
        {"label": "Specify explicitly", "value": "explicit"},
        {"label": "From repeater", "value": "foreach"},
    ],
    "allowEditOnly": True,
}
_TYPE_DEFAULTS: dict[str, Any] = {"boolean": False, "string": "", "number": 0}


def _ignore(node: Node, value: Any) -> None:
    """Editor-only list of property names; read from the node's parameters when needed."""


def model_id_of(value: Any) -> Any:
    return value.id if isinstance(value, Model) else value


class ObjectNode(Node):
    """``Model2``: exposes an object's properties as ``prop-*`` outputs and reports changes."""

    TYPE = "Model2"
    DISPLAY_NAME = "Object"
    CATEGORY = "Data"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.model: Model | None = None
        self.model_id: Any = UNDEFINED
        self.values: dict[str, Any] = {}
        self.dirty_values: dict[str, None] = {}
        self._store_scheduled = False
        self._fetch_scheduled = False

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        if name.startswith("prop-"):
            key = name[5:]
            return OutputSpec(name, "*", get=lambda n: self.model.get(key) if self.model else UNDEFINED)
        if name.startswith("changed-"):
            return OutputSpec(name, "signal")
        return None

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if not name.startswith("prop-"):
            return None
        key = name[5:]

        def store(node: Node, value: Any) -> None:
            self.values[key] = value
            if self.model is None or not strict_equals(self.model.get(key), value):
                self.dirty_values[key] = None
                self._schedule_store()

        return InputSpec(name, "*", set=store)

    def _set_model_id(self, value: Any) -> None:
        if isinstance(value, dict):
            value = self.ctx.models.create(value, value.get("id")).id
        self.model_id = model_id_of(value)
        if self.is_input_connected("fetch"):
            self.flag_output_dirty("id")
        else:
            self.set_model_id(self.model_id)

    def _on_fetch(self) -> None:
        if not self._fetch_scheduled:
            self._fetch_scheduled = True

            def fetch() -> None:
                self._fetch_scheduled = False
                self.set_model_id(self.model_id)

            self.schedule_after_inputs(fetch)

    def _schedule_store(self) -> None:
        if self._store_scheduled:
            return
        self._store_scheduled = True

        def store() -> None:
            self._store_scheduled = False
            if self.model is not None:
                for key in self.dirty_values:
                    self.model.set(key, self.values.get(key, UNDEFINED))
            self.dirty_values = {}

        self.schedule_after_inputs(store)

    def set_model_id(self, model_id: Any) -> None:
        self.set_model(self.ctx.models.get(js_to_string(model_id)) if model_id is not UNDEFINED else None)
        self.send_signal("fetched")

    def set_model(self, model: Model | None) -> None:
        if self.model is not None:
            self.model.off_change(self._on_model_changed)
        self.model = model
        self.flag_output_dirty("id")
        if model is not None:
            model.on_change(self._on_model_changed)
            for key in list(model.data):
                if self.has_output("prop-" + key):
                    self.flag_output_dirty("prop-" + key)

    def _on_model_changed(self, model: Model, key: str, value: Any) -> None:
        if self.deleted or self.is_input_connected("fetch"):
            return
        if self.has_output("prop-" + key):
            self.flag_output_dirty("prop-" + key)
        if self.has_output("changed-" + key):
            self.send_signal("changed-" + key)
        self.send_signal("changed")

    def delete(self) -> None:
        if self.model is not None:
            self.model.off_change(self._on_model_changed)
        super().delete()

    INPUTS = (
        InputSpec(
            "idSource",
            ID_SOURCE_TYPE,
            set=_ignore,
            default="explicit",
            display_name="Get Id from",
            group="General",
        ),
        InputSpec("modelId", "string", set=_set_model_id, display_name="Id", group="General"),
        InputSpec("properties", "stringlist", set=_ignore, display_name="Properties", group="Properties"),
        InputSpec("fetch", "signal", on_signal=_on_fetch, display_name="Fetch", group="Actions"),
    )
    OUTPUTS = (
        OutputSpec(
            "id",
            "string",
            get=lambda n: n.model.id if n.model else n.model_id,
            display_name="Id",
            group="General",
        ),
        OutputSpec("changed", "signal", display_name="Changed", group="Events"),
        OutputSpec("fetched", "signal", display_name="Fetched", group="Events"),
    )


class ObjectWriterNode(Node):
    """Shared by Set Object Properties and Create New Object: ``prop-*``/``type-*`` inputs."""

    CATEGORY = "Data"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.model: Model | None = None
        self.model_id: Any = UNDEFINED
        self.values: dict[str, Any] = {}
        self.types: dict[str, Any] = {}
        self.properties: list[str] = []
        self._scheduled = False

    def setup(self, node_def: Any) -> None:
        listed = node_def.parameters.get("properties")
        self.properties = js_to_string(listed).split(",") if listed else []

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name.startswith("prop-"):
            key = name[5:]
            return InputSpec(name, "*", set=lambda n, value: self.values.__setitem__(key, value))
        if name.startswith("type-"):
            key = name[5:]
            return InputSpec(name, "*", set=lambda n, value: self.types.__setitem__(key, value))
        return None

    def push_values(self, model: Model) -> None:
        """Write only listed properties; a typed property without a value gets its type's default."""
        keys = list(dict.fromkeys([*self.types, *self.values]))
        for key in (k for k in keys if k in self.properties):
            value = self.values.get(key, UNDEFINED)
            if value is UNDEFINED:
                model.set(key, _TYPE_DEFAULTS.get(js_to_string(self.types.get(key)), UNDEFINED))
                continue
            if self.types.get(key) == "array" and isinstance(value, str):
                value = self.ctx.services.js.eval_array_literal(value)
            elif self.types.get(key) == "object" and isinstance(value, str):
                value = self.ctx.models.get(value)
            model.set(key, value)

    def set_model(self, model: Model | None) -> None:
        self.model = model
        self.flag_output_dirty("id")


class SetObjectPropertiesNode(ObjectWriterNode):
    TYPE = "SetModelProperties"
    DISPLAY_NAME = "Set Object Properties"

    def _set_model_id(self, value: Any) -> None:
        self.model_id = model_id_of(value)
        self.set_model(self.ctx.models.get(js_to_string(self.model_id)))

    def _on_store(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True

        def store() -> None:
            self._scheduled = False
            if self.model is None:
                return
            self.push_values(self.model)
            self.send_signal("stored")

        self.schedule_after_inputs(store)

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        InputSpec(
            "idSource",
            ID_SOURCE_TYPE,
            set=_ignore,
            default="explicit",
            display_name="Id Source",
            group="General",
        ),
        InputSpec("modelId", "string", set=_set_model_id, display_name="Id", group="General"),
        InputSpec(
            "properties", "stringlist", set=_ignore, display_name="Properties", group="Properties to set"
        ),
    )
    OUTPUTS = (
        OutputSpec("stored", "signal", display_name="Done", group="Events"),
        OutputSpec(
            "id",
            "string",
            get=lambda n: n.model.id if n.model else n.model_id,
            display_name="Id",
            group="General",
        ),
    )


class CreateNewObjectNode(ObjectWriterNode):
    TYPE = "NewModel"
    DISPLAY_NAME = "Create New Object"

    def _on_new(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True

        def create() -> None:
            self._scheduled = False
            model = self.ctx.models.create()
            self.push_values(model)
            self.set_model(model)
            self.send_signal("created")

        self.schedule_after_inputs(create)

    INPUTS = (
        InputSpec("new", "signal", on_signal=_on_new, display_name="Do", group="Actions"),
        InputSpec(
            "properties", "stringlist", set=_ignore, display_name="Properties", group="Properties to set"
        ),
    )
    OUTPUTS = (
        OutputSpec("created", "signal", display_name="Done", group="Events"),
        OutputSpec(
            "id",
            "string",
            get=lambda n: n.model.id if n.model else n.model_id,
            display_name="Id",
            group="General",
        ),
    )
