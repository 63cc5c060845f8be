"""The realtime door's record checks of every record store: a subscription filter validated up front, a
change record matched against it with query semantics and the caller's read rights, and the record as the
caller may see it. Written once for all stores over their schemas and matcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.store import read_scope, reads
from sidecar.store.interface import CallerContext, JsonObject
from sidecar.store.matcher import RecordMatcher
from sidecar.store.schema import ClassSchema


class RealtimeFilters:
    """Mixed into a record store that keeps ``_schemas`` (class name → schema) and a ``_matcher``."""

    _schemas: dict[str, ClassSchema]
    _matcher: RecordMatcher

    def visible_record(self, class_name: str, record: JsonObject, caller: CallerContext) -> JsonObject | None:
        """A change record as ``caller`` may see it, or None when ``caller`` may not find it at all."""
        schema = self._schemas.get(class_name)
        if schema is None or not read_scope.record_readable(schema, "find", caller, record):
            return None
        return reads.present(self._schemas, caller, class_name, record)

    def check_filter(self, class_name: str, where: Mapping[str, Any]) -> None:
        """Validate a subscription filter up front (same errors as a query; cross-class operators refused)."""
        self._matcher.check(self._schemas.get(class_name), where)

    def matches(
        self, class_name: str, where: Mapping[str, Any], record: Mapping[str, Any], caller: CallerContext
    ) -> bool:
        """Whether a change record passes ``where`` and ``caller`` may find it, with query semantics."""
        schema = self._schemas.get(class_name)
        if schema is None or not read_scope.record_readable(schema, "find", caller, record):
            return False
        return self._matcher.matches(schema, where, record, caller)

    def redact(self, class_name: str, record: Mapping[str, Any], caller: CallerContext) -> JsonObject:
        """A change record as ``caller`` may see it (protectedFields, other users' secrets), as reads do."""
        return reads.present(self._schemas, caller, class_name, dict(record))
