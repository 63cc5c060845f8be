"""Filter Records: filter, sort, skip and limit an items array locally, no backend."""

from __future__ import annotations

import math
from functools import cmp_to_key
from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.objects import Model
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.query_filters import (
    LocalFilterError,
    compare_records,
    convert_visual_filter,
    matches,
    visual_sorting,
)
from sidecar.runtime.records_codec import collection_schema
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string, js_truthy


class FilterRecordsNode(Node):
    """``FilterDBModels``: filter, sort, skip and limit an items array locally."""

    TYPE = "FilterDBModels"
    DISPLAY_NAME = "Filter Records"
    CATEGORY = "Data"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items: list[Any] | None = None
        self.filtered: list[Any] | None = None
        self.enabled = True
        self.collection: Any = UNDEFINED
        self.visual_filter: Any = UNDEFINED
        self.visual_sort: Any = UNDEFINED
        self.parameters: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        attributes = {
            "collectionName": "collection",
            "visualFilter": "visual_filter",
            "visualSorting": "visual_sort",
        }
        if name in attributes:
            return InputSpec(
                name, "*", set=lambda n, v: self._changed(lambda: setattr(self, attributes[name], v))
            )
        if name.startswith("fp-"):
            key = name[3:]
            return InputSpec(
                name, "*", set=lambda n, v: self._changed(lambda: self.parameters.__setitem__(key, v))
            )
        return InputSpec(
            name, "*", set=lambda n, v: self._changed(lambda: self.settings.__setitem__(name, v))
        )

    def _changed(self, apply: Any) -> None:
        apply()
        if not self.is_input_connected("filter"):
            self._schedule()

    def _set_items(self, value: Any) -> None:
        self._changed(lambda: setattr(self, "items", value if isinstance(value, list) else None))

    def _set_enabled(self, value: Any) -> None:
        self._changed(lambda: setattr(self, "enabled", js_truthy(value)))

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._filter)

    def _filter(self) -> None:
        self._scheduled = False
        if self.items is None:
            return
        result = [item for item in self.items if isinstance(item, Model)]
        if self.enabled:
            schema = dict(collection_schema(self.ctx, js_to_string(self.collection)))
            where = convert_visual_filter(self.visual_filter, self.parameters, schema)
            if where:
                try:
                    result = [m for m in result if matches(m, where)]
                except LocalFilterError:
                    return  # Noodl's filter threw: nothing is sent, the outputs stay as they were
            sorting = visual_sorting(self.visual_sort)
            if sorting:
                result.sort(key=cmp_to_key(compare_records(sorting)))
            skip, limit = self._paging()
            result = result[skip:][:limit] if limit else result[skip:]
        self.filtered = result
        self.send_signal("modified")
        for output in ("firstItemId", "items", "count"):
            self.flag_output_dirty(output)

    def _paging(self) -> tuple[int, int | None]:
        if not js_truthy(self.settings.get("filterEnableLimit")):
            return 0, None
        limit = js_to_number(self.settings.get("filterLimit") or 10)
        skip = js_to_number(self.settings.get("filterSkip") or 0)
        return int(skip) if math.isfinite(skip) else 0, int(limit) if math.isfinite(limit) else None

    def _on_filter(self) -> None:
        self._schedule()

    INPUTS = (
        InputSpec("items", "array", set=_set_items, display_name="Items", group="General"),
        InputSpec(
            "enabled", "boolean", set=_set_enabled, default=True, display_name="Enabled", group="General"
        ),
        InputSpec("filter", "signal", on_signal=_on_filter, display_name="Filter", group="Actions"),
    )
    OUTPUTS = (
        OutputSpec(
            "items",
            "array",
            get=lambda n: n.filtered if n.filtered is not None else UNDEFINED,
            display_name="Items",
        ),
        OutputSpec(
            "firstItemId",
            "string",
            get=lambda n: n.filtered[0].id if n.filtered else UNDEFINED,
            display_name="First Record Id",
        ),
        OutputSpec(
            "count",
            "number",
            get=lambda n: len(n.filtered) if n.filtered is not None else 0,
            display_name="Count",
        ),
        OutputSpec("modified", "signal", display_name="Filtered", group="Events"),
    )
