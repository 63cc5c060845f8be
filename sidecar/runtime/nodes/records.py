"""Record nodes that write or read one record: Record, Create/Set/Delete Record, Add/Remove Relation.

Each follows the data-node pattern: inputs only store; the action signal schedules the work
after inputs settle; on completion result outputs are flagged, then Success or Failure is sent.
Access-control inputs (``accessControl``, ``acl-*``) are accepted and not applied: functions run as
admin and the store keeps ACLs written by other means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.nodes.objects import ID_SOURCE_TYPE, model_id_of
from sidecar.runtime.objects import Model
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.records_codec import collection_schema, from_json, serialize
from sidecar.runtime.records_port import RecordsPort
from sidecar.runtime.values import UNDEFINED, js_to_string

NO_STORE = "No record store is available to this function"


def _ignore(node: Node, value: Any) -> None:
    """Inputs that only drive the editor or are not applied here."""


def error_message(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error) or type(error).__name__


class RecordNodeBase(Node):
    """Collection name, ``prop-*`` values, ``error``/``failure`` and one scheduled backend call."""

    CATEGORY = "Data"
    SUCCESS_SIGNAL = "stored"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.collection: Any = UNDEFINED
        self.values: dict[str, Any] = {}
        self.model: Model | None = None
        self.model_id: Any = UNDEFINED
        self.target_id: Any = UNDEFINED
        self.relation: Any = UNDEFINED
        self.error: Any = UNDEFINED
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name == "collectionName":
            return InputSpec(name, "string", set=lambda n, v: setattr(self, "collection", v))
        if name.startswith("prop-"):
            key = name[5:]
            return InputSpec(name, "*", set=lambda n, v: self.values.__setitem__(key, v))
        if name == "relationProperty":
            return InputSpec(name, "string", set=lambda n, v: setattr(self, "relation", v))
        if name.startswith(("acl-", "type-")) or name in ("accessControl", "storeProperties", "storeType"):
            return InputSpec(name, "*", set=_ignore)
        return None

    def _set_model_id(self, value: Any) -> None:
        self.model_id = model_id_of(value)
        self.set_model(self.ctx.models.get(js_to_string(self.model_id)))

    def _set_target_id(self, value: Any) -> None:
        self.target_id = model_id_of(value)

    def set_model(self, model: Model | None) -> None:
        self.model = model
        self.flag_output_dirty("id")

    def set_error(self, message: str) -> None:
        self.error = message
        self.flag_output_dirty("error")
        self.send_signal("failure")

    def schedule_call(self, call: Callable[[], Awaitable[Any] | None], done: Callable[[Any], None]) -> None:
        """After inputs settle: start ``call`` against the store, then ``done`` or the failure path."""
        if self._scheduled:
            return
        self._scheduled = True

        def start() -> None:
            self._scheduled = False
            if not self.collection:
                self.set_error("No class name specified")
                return
            if self.ctx.services.records is None:
                self.set_error(NO_STORE)
                return
            work = call()
            if work is None:
                return

            def finished(result: Any, error: BaseException | None) -> None:
                if error is not None:
                    self.set_error(error_message(error))
                else:
                    done(result)

            self.ctx.spawn(work, finished)

        self.schedule_after_inputs(start)

    def object_id(self) -> str | None:
        if self.model is not None:
            return self.model.id
        return None if self.model_id is UNDEFINED else js_to_string(self.model_id)

    @property
    def records(self) -> RecordsPort:
        """The store port; ``schedule_call`` has already answered the failure path when it is absent."""
        records = self.ctx.services.records
        assert records is not None
        return records


def _common_outputs(success: str, success_name: str) -> tuple[OutputSpec, ...]:
    return (
        OutputSpec(success, "signal", display_name=success_name, group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
        OutputSpec(
            "id",
            "string",
            get=lambda n: n.model.id if n.model else n.model_id,
            display_name="Id",
            group="General",
        ),
    )


_MODEL_ID_INPUTS = (
    InputSpec(
        "idSource", ID_SOURCE_TYPE, set=_ignore, default="explicit", display_name="Id Source", group="General"
    ),
    InputSpec("modelId", "string", set=RecordNodeBase._set_model_id, display_name="Id", group="General"),
)


class RecordNode(RecordNodeBase):
    """``DbModel2`` ("Record"): fetch one record into an object and expose its ``prop-*``."""

    TYPE = "DbModel2"
    DISPLAY_NAME = "Record"
    CATEGORY = "Cloud Services"

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        if name.startswith("prop-"):
            key = name[5:]
            return OutputSpec(name, "*", get=lambda n: self.model.get(key) if self.model else UNDEFINED)
        return None

    def _set_model_id(self, value: Any) -> None:
        self.model_id = model_id_of(value)
        model = self.ctx.models.get(js_to_string(self.model_id))
        self.set_model(model)
        if not self.is_input_connected("fetch"):
            self._on_fetch()

    def _on_fetch(self) -> None:
        def call() -> Awaitable[Any] | None:
            object_id = self.object_id()
            if object_id is None:
                self.set_error("No record id specified")
                return None
            return self.records.fetch(js_to_string(self.collection), object_id)

        def done(record: Any) -> None:
            self.set_model(from_json(self.ctx, record, js_to_string(self.collection)))
            for key in list(self.model.data if self.model else ()):
                if self.has_output("prop-" + key):
                    self.flag_output_dirty("prop-" + key)
            self.send_signal("fetched")

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec(
            "idSource",
            ID_SOURCE_TYPE,
            set=_ignore,
            default="explicit",
            display_name="Id Source",
            group="General",
        ),
        InputSpec("modelId", "string", set=_set_model_id, display_name="Id", group="General"),
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
        OutputSpec("fetched", "signal", display_name="Fetched", group="Events"),
        OutputSpec("changed", "signal", display_name="Changed", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
    )


class CreateRecordNode(RecordNodeBase):
    TYPE = "NewDbModelProperties"
    DISPLAY_NAME = "Create New Record"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.source_id: Any = UNDEFINED

    def _set_source(self, value: Any) -> None:
        self.source_id = model_id_of(value)

    def _on_store(self) -> None:
        def call() -> Awaitable[Any]:
            initial: dict[str, Any] = {}
            if self.source_id:
                initial.update(self.ctx.models.get(js_to_string(self.source_id)).data)
            initial.update(self.values)
            collection = js_to_string(self.collection)
            return self.records.create(collection, serialize(self.ctx, initial, collection))

        def done(record: Any) -> None:
            self.set_model(from_json(self.ctx, record, js_to_string(self.collection)))
            self.send_signal("created")

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        InputSpec(
            "sourceObjectId", "string", set=_set_source, display_name="Source Object Id", group="General"
        ),
        InputSpec("accessControl", "proplist", set=_ignore, display_name="Access Control Rules"),
    )
    OUTPUTS = _common_outputs("created", "Success")


class SetRecordNode(RecordNodeBase):
    TYPE = "SetDbModelProperties"
    DISPLAY_NAME = "Set Record Properties"

    def _on_store(self) -> None:
        def call() -> Awaitable[Any] | None:
            object_id = self.object_id()
            if object_id is None:
                self.set_error("No record id specified")
                return None
            collection = js_to_string(self.collection)
            body = serialize(self.ctx, self.values, collection)
            return self.records.save(collection, object_id, body)

        def done(record: Any) -> None:
            model = self.ctx.models.get(self.object_id() or "")
            for key, value in self.values.items():
                model.set(key, value)
            self.set_model(model)
            self.send_signal("stored")

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        InputSpec(
            "storeProperties", "enum", set=_ignore, default="specified", display_name="Properties to  store"
        ),
        InputSpec(
            "storeType", "enum", set=_ignore, default="cloud", display_name="Store to", group="General"
        ),
        *_MODEL_ID_INPUTS,
        InputSpec("accessControl", "proplist", set=_ignore, display_name="Access Control Rules"),
    )
    OUTPUTS = _common_outputs("stored", "Success")


class DeleteRecordNode(RecordNodeBase):
    TYPE = "DeleteDbModelProperties"
    DISPLAY_NAME = "Delete Record"

    def _on_store(self) -> None:
        def call() -> Awaitable[Any] | None:
            object_id = self.object_id()
            if object_id is None:
                self.set_error("No record id specified")
                return None
            return self.records.delete(js_to_string(self.collection), object_id)

        def done(_result: Any) -> None:
            self.send_signal("deleted")

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        *_MODEL_ID_INPUTS,
    )
    OUTPUTS = _common_outputs("deleted", "Success")


class RelationNodeBase(RecordNodeBase):
    ADD = True
    DONE_SIGNAL = "relationAdded"

    def _on_store(self) -> None:
        def call() -> Awaitable[Any] | None:
            object_id = self.object_id()
            if object_id is None or not self.target_id or not self.relation:
                self.set_error("Relation needs a record id, a target record id and a relation property")
                return None
            collection = js_to_string(self.collection)
            target = self.ctx.models.find(js_to_string(self.target_id))
            target_class = _relation_target(self, collection) or (
                target.data.get("_class") if target else None
            )
            pointer = {
                "__type": "Pointer",
                "className": target_class,
                "objectId": js_to_string(self.target_id),
            }
            method = self.records.add_relation if self.ADD else self.records.remove_relation
            return method(collection, object_id, js_to_string(self.relation), [pointer])

        def done(_result: Any) -> None:
            self.send_signal(self.DONE_SIGNAL)

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec("store", "signal", on_signal=_on_store, display_name="Do", group="Actions"),
        *_MODEL_ID_INPUTS,
        InputSpec("targetId", "string", set=RecordNodeBase._set_target_id, display_name="Target Record Id"),
    )


def _relation_target(node: RecordNodeBase, collection: str) -> Any:
    spec = collection_schema(node.ctx, collection).get(js_to_string(node.relation))
    return spec.get("targetClass") if isinstance(spec, dict) else None


class AddRelationNode(RelationNodeBase):
    TYPE = "AddDbModelRelation"
    DISPLAY_NAME = "Add Record Relation"
    OUTPUTS = _common_outputs("relationAdded", "Success")


class RemoveRelationNode(RelationNodeBase):
    TYPE = "RemoveDbModelRelation"
    DISPLAY_NAME = "Remove Record Relation"
    ADD = False
    DONE_SIGNAL = "relationRemoved"
    OUTPUTS = _common_outputs("relationRemoved", "Success")
