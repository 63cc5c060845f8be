"""Record queries against the store: Query Records and Aggregate Records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sidecar.runtime.nodes.records import RecordNodeBase
from sidecar.runtime.objects import Model
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.query_filters import convert_visual_filter, visual_sorting
from sidecar.runtime.records_codec import collection_schema, from_json
from sidecar.runtime.records_port import RecordQuery
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string, js_truthy


class QuerySettingsNode(RecordNodeBase):
    """Filter inputs shared by Query Records and Aggregate Records."""

    CATEGORY = "Cloud Services"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.settings: dict[str, Any] = {}
        self.parameters: dict[str, Any] = {}
        self.visual_filter: Any = UNDEFINED
        self.visual_sort: Any = UNDEFINED

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name == "collectionName":
            return InputSpec(name, "string", set=lambda n, v: self._changed("collection", v))
        if name == "storageFetch":
            return InputSpec(name, "signal", on_signal=lambda n: self.schedule_fetch(), display_name="Do")
        if name in ("visualFilter", "visualSorting"):
            attribute = "visual_filter" if name == "visualFilter" else "visual_sort"
            return InputSpec(name, "*", set=lambda n, v: self._changed(attribute, v))
        if name.startswith("qp-"):
            key = name[3:]
            return InputSpec(name, "*", set=lambda n, v: self._changed_in(self.parameters, key, v))
        return InputSpec(name, "*", set=lambda n, v: self._changed_in(self.settings, name, v))

    def _changed(self, attribute: str, value: Any) -> None:
        setattr(self, attribute, value)
        self._auto_fetch()

    def _changed_in(self, table: dict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        self._auto_fetch()

    def _auto_fetch(self) -> None:
        if not self.is_input_connected("storageFetch"):
            self.schedule_fetch()

    def schedule_fetch(self) -> None:
        raise NotImplementedError

    def storage_filter(self) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        collection = js_to_string(self.collection)
        if self.settings.get("storageFilterType", "simple") in ("simple", UNDEFINED):
            schema = dict(collection_schema(self.ctx, collection))
            return convert_visual_filter(self.visual_filter, self.parameters, schema), visual_sorting(
                self.visual_sort
            )
        inputs = {
            k[len("storageFilterValue-") :]: v
            for k, v in self.settings.items()
            if k.startswith("storageFilterValue-")
        }
        code = js_to_string(self.settings.get("storageJSONFilter", ""))
        result = self.ctx.services.js.query_filter(
            code, inputs, collection, dict(self.ctx.services.export.metadata)
        )
        sort = result.get("sort") or []
        return result.get("where") or {}, tuple(str(s) for s in sort) if isinstance(sort, list) else ()


class QueryRecordsNode(QuerySettingsNode):
    TYPE = "DbCollection2"
    DISPLAY_NAME = "Query Records"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items: list[Model] | None = None

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return OutputSpec(name, "*", get=lambda n: self.settings.get(name, UNDEFINED))

    def schedule_fetch(self) -> None:
        def call() -> Awaitable[Any]:
            where, order = self.storage_filter()
            limited = js_truthy(self.settings.get("storageEnableLimit"))
            query = RecordQuery(
                where=where or {},
                order=order,
                limit=int(js_to_number(self.settings.get("storageLimit") or 10)) if limited else None,
                skip=int(js_to_number(self.settings.get("storageSkip") or 0)) if limited else None,
                count=js_truthy(self.settings.get("storageEnableCount")),
            )
            return self.records.query(js_to_string(self.collection), query)

        def done(result: Any) -> None:
            rows, total = result
            self.items = [from_json(self.ctx, row, js_to_string(self.collection)) for row in rows]
            if total is not None:
                self.settings["storageTotalCount"] = total
                if self.has_output("storageTotalCount"):
                    self.flag_output_dirty("storageTotalCount")
            for output in ("firstItemId", "isEmpty", "items", "count"):
                self.flag_output_dirty(output)
            self.send_signal("fetched")

        self.schedule_call(call, done)

    OUTPUTS = (
        OutputSpec(
            "items",
            "array",
            get=lambda n: n.items if n.items is not None else UNDEFINED,
            display_name="Items",
        ),
        OutputSpec(
            "firstItemId",
            "string",
            get=lambda n: n.items[0].id if n.items else UNDEFINED,
            display_name="First Record Id",
        ),
        OutputSpec(
            "isEmpty",
            "boolean",
            get=lambda n: not n.items if n.items is not None else UNDEFINED,
            display_name="Is Empty",
        ),
        OutputSpec("count", "number", get=lambda n: len(n.items) if n.items else 0, display_name="Count"),
        OutputSpec("fetched", "signal", display_name="Success", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
    )


class AggregateRecordsNode(QuerySettingsNode):
    TYPE = "noodl.cloud.aggregate"
    DISPLAY_NAME = "Aggregate Records"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.aggregates: Any = UNDEFINED
        self.definitions: dict[str, dict[str, Any]] = {}
        self.results: dict[str, Any] | None = None
        self._names: list[str] = []

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        for prefix, field in (("aggprop-", "prop"), ("aggop-", "op")):
            if name.startswith(prefix):
                return InputSpec(
                    name, "*", set=_definition_setter(self.definitions, name[len(prefix) :], field)
                )
        return super().make_dynamic_input(name)

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        if not name.startswith("agg-"):
            return None
        key = name[4:]
        return OutputSpec(name, "*", get=lambda n: (self.results or {}).get(key, UNDEFINED))

    def _set_aggregates(self, value: Any) -> None:
        self.aggregates = value

    def group(self) -> dict[str, Any]:
        """``$group`` stage: default op is ``distinct`` for String properties, else ``avg``."""
        schema = collection_schema(self.ctx, js_to_string(self.collection))
        grouping: dict[str, Any] = {"_id": None}
        names = js_to_string(self.aggregates).split(",") if self.aggregates else []
        for name in names:
            definition = self.definitions.get(name, {})
            prop = definition.get("prop")
            spec = schema.get(prop) if isinstance(prop, str) else None
            if not isinstance(spec, dict):
                continue
            op = definition.get("op") or ("distinct" if spec.get("type") == "String" else "avg")
            operator = {
                "avg": "$avg",
                "sum": "$sum",
                "max": "$max",
                "min": "$min",
                "distinct": "$addToSet",
            }.get(op)
            if operator:
                grouping[name] = {operator: "$" + js_to_string(prop)}
        return grouping

    def schedule_fetch(self) -> None:
        def call() -> Awaitable[Any] | None:
            if not self.aggregates or " " in js_to_string(self.aggregates):
                self.set_error(
                    "No aggregates specified." if not self.aggregates else "Invalid aggregate names"
                )
                return None
            where, _order = self.storage_filter()
            grouping = self.group()
            self._names = [k for k in grouping if k != "_id"]
            pipeline = [{"$match": where or {}}, {"$group": grouping}]
            return self.records.aggregate(js_to_string(self.collection), pipeline)

        def done(rows: Any) -> None:
            row = rows[0] if isinstance(rows, list) and len(rows) == 1 else None
            self.results = {k: row.get(k, UNDEFINED) for k in self._names} if row is not None else {}
            for key in self.results:
                if self.has_output("agg-" + key):
                    self.flag_output_dirty("agg-" + key)
            self.send_signal("fetched")

        self.schedule_call(call, done)

    INPUTS = (
        InputSpec(
            "aggregates", "stringlist", set=_set_aggregates, display_name="Aggregates", group="Aggregates"
        ),
    )
    OUTPUTS = (
        OutputSpec("fetched", "signal", display_name="Success", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("error", "string", get=lambda n: n.error, display_name="Error", group="Error"),
    )


def _definition_setter(
    definitions: dict[str, dict[str, Any]], key: str, field: str
) -> Callable[[Any, Any], None]:
    def store(node: Any, value: Any) -> None:
        definitions.setdefault(key, {})[field] = value

    return store
