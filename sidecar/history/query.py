"""ExecutionQuery and its compilation to SQL — pure, no I/O.

A query that cannot be honoured raises ``InvalidHistoryQueryError``; it is never widened to "all rows".
Pagination is either ``offset`` (the contract's) or an opaque ``cursor`` taken from the previous page
(keyset: stable while new runs arrive).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.errors import InvalidHistoryQueryError
from sidecar.history.rows import TRIGGER_TYPES, ExecutionStatus

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
ORDER_COLUMNS = {"started_at": "started_at", "duration_ms": "COALESCE(duration_ms, -1)", "status": "status"}
_STRING_FIELDS = {"workflowId", "status", "triggerType", "errorText", "search", "nodeId", "cursor"}
_INT_FIELDS = {"startedAfter", "startedBefore", "minDurationMs", "maxDurationMs", "limit", "offset"}
_ALL_FIELDS = _STRING_FIELDS | _INT_FIELDS | {"orderBy", "orderDir"}
_SQLITE_MIN_INT, _SQLITE_MAX_INT = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ExecutionQuery:
    workflow_id: str | None = None
    status: str | None = None
    trigger_type: str | None = None
    started_after: int | None = None
    started_before: int | None = None
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    error_text: str | None = None
    """Substring of the execution's error message (case-insensitive for ASCII)."""
    search: str | None = None
    """Full-text words over error text and step output previews (all words must match); with the
    default order, matches come newest-recorded first."""
    node_id: str | None = None
    """Only executions with a step on this canvas node."""
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    order_by: str = "started_at"
    order_dir: str = "desc"
    cursor: str | None = None

    @classmethod
    def from_wire(cls, params: Mapping[str, Any] | None) -> ExecutionQuery:
        """From the editor's camelCase ExecutionQuery or HTTP query parameters (numbers may be strings)."""
        params = params or {}
        unknown = set(params) - _ALL_FIELDS
        if unknown:
            raise InvalidHistoryQueryError(f"unknown query parameters: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in params.items():
            if value is None or value == "":
                continue
            if name in _INT_FIELDS:
                values[name] = _as_int(name, value)
            elif not isinstance(value, str):
                raise InvalidHistoryQueryError(f"{name} must be a string")
            else:
                values[name] = value
        query = cls(
            workflow_id=values.get("workflowId"),
            status=values.get("status"),
            trigger_type=values.get("triggerType"),
            started_after=values.get("startedAfter"),
            started_before=values.get("startedBefore"),
            min_duration_ms=values.get("minDurationMs"),
            max_duration_ms=values.get("maxDurationMs"),
            error_text=values.get("errorText"),
            search=values.get("search"),
            node_id=values.get("nodeId"),
            limit=values.get("limit", DEFAULT_LIMIT),
            offset=values.get("offset", 0),
            order_by=values.get("orderBy", "started_at"),
            order_dir=values.get("orderDir", "desc"),
            cursor=values.get("cursor"),
        )
        query.validate()
        return query

    def validate(self) -> None:
        if self.status is not None and self.status not in set(ExecutionStatus):
            raise InvalidHistoryQueryError(f"unknown status {self.status!r}")
        if self.trigger_type is not None and self.trigger_type not in TRIGGER_TYPES:
            raise InvalidHistoryQueryError(f"unknown triggerType {self.trigger_type!r}")
        if self.order_by not in ORDER_COLUMNS:
            raise InvalidHistoryQueryError(f"orderBy must be one of {', '.join(ORDER_COLUMNS)}")
        if self.order_dir not in ("asc", "desc"):
            raise InvalidHistoryQueryError("orderDir must be 'asc' or 'desc'")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidHistoryQueryError(f"limit must be between 0 and {MAX_LIMIT}")
        if self.offset < 0:
            raise InvalidHistoryQueryError("offset must not be negative")
        if self.cursor is not None and self.offset:
            raise InvalidHistoryQueryError("use either cursor or offset, not both")
        if self.search is not None and not _fts_phrases(self.search):
            raise InvalidHistoryQueryError("search needs at least one word")


def _as_int(name: str, value: Any) -> int:
    """An integer SQLite can bind (64-bit), else 400: a bigger one would fail the read itself."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        try:
            number = int(value)
        except ValueError:  # digits int() does not read, such as superscripts
            number = None
    if number is None:
        raise InvalidHistoryQueryError(f"{name} must be an integer")
    if not _SQLITE_MIN_INT <= number <= _SQLITE_MAX_INT:
        raise InvalidHistoryQueryError(f"{name} is out of range")
    return number


def _fts_phrases(text: str) -> str:
    """Each word as a quoted FTS5 phrase, so user text can never be FTS5 syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def encode_cursor(sort_value: Any, rowid: int) -> str:
    raw = json.dumps([sort_value, rowid], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, rowid = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as error:
        raise InvalidHistoryQueryError("invalid cursor") from error
    if not isinstance(rowid, int) or not isinstance(value, int | str):
        raise InvalidHistoryQueryError("invalid cursor")
    return value, rowid


@dataclass(frozen=True)
class Dialect:
    """What differs between the stores' SQL: the insertion-order column (the keyset tie-breaker), the
    case-insensitive LIKE, full-text search, and parameter marks. Terms are written with ``?`` marks;
    ``numbered`` turns them into the store's own."""

    row_order: str
    like: str
    search_term: Callable[[str], tuple[str, list[Any]]]
    """User words → a term over ``workflow_executions e`` that keeps the matching executions."""
    search_source: Callable[[str], tuple[str, list[Any]]]
    """User words → (``FROM … s JOIN workflow_executions e … WHERE`` first term, params): the search
    index drives a search in recording order."""
    numbered: Callable[[str], str] = lambda sql: sql


def _sqlite_search_term(text: str) -> tuple[str, list[Any]]:
    return "e.rowid IN (SELECT rowid FROM execution_search WHERE execution_search MATCH ?)", [
        _fts_phrases(text)
    ]


def _sqlite_search_source(text: str) -> tuple[str, list[Any]]:
    return (
        "execution_search s JOIN workflow_executions e ON e.rowid = s.rowid WHERE execution_search MATCH ?",
        [_fts_phrases(text)],
    )


SQLITE = Dialect("rowid", "LIKE", _sqlite_search_term, _sqlite_search_source)


def compile_filters(
    query: ExecutionQuery, *, with_search: bool = True, dialect: Dialect = SQLITE
) -> tuple[list[str], list[Any]]:
    """WHERE terms over ``workflow_executions e`` (without pagination), with ``?`` marks."""
    terms: list[str] = []
    params: list[Any] = []
    equalities = (
        ("e.workflow_id", query.workflow_id),
        ("e.status", query.status),
        ("e.trigger_type", query.trigger_type),
    )
    for column, value in equalities:
        if value is not None:
            terms.append(f"{column} = ?")
            params.append(value)
    ranges = (
        ("e.started_at >= ?", query.started_after),
        ("e.started_at <= ?", query.started_before),
        ("e.duration_ms >= ?", query.min_duration_ms),
        ("e.duration_ms <= ?", query.max_duration_ms),
    )
    for term, bound in ranges:
        if bound is not None:
            terms.append(term)
            params.append(bound)
    if query.error_text is not None:
        terms.append(f"e.error_message {dialect.like} ? ESCAPE '\\'")
        params.append(_like_pattern(query.error_text))
    if query.search is not None and with_search:
        term, words = dialect.search_term(query.search)
        terms.append(term)
        params.extend(words)
    if query.node_id is not None:
        terms.append("EXISTS (SELECT 1 FROM execution_steps s WHERE s.execution_id = e.id AND s.node_id = ?)")
        params.append(query.node_id)
    return terms, params


def compile_list(query: ExecutionQuery, columns: str, dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
    """The page's SELECT: filters, keyset or offset pagination, order with rowid as the tie-breaker."""
    if query.search is not None and query.order_by == "started_at":
        return _compile_search_by_recency(query, columns, dialect)
    terms, params = compile_filters(query, dialect=dialect)
    tie = f"e.{dialect.row_order}"
    sort = ORDER_COLUMNS[query.order_by].replace("duration_ms", "e.duration_ms")
    if query.order_by != "duration_ms":
        sort = "e." + sort
    descending = query.order_dir == "desc"
    if query.cursor is not None:
        value, rowid = decode_cursor(query.cursor)
        before, strictly = ("<=", "<") if descending else (">=", ">")
        # The first term lets SQLite range-scan the index; the second breaks ties on rowid.
        terms.append(f"{sort} {before} ? AND ({sort} {strictly} ? OR {tie} {strictly} ?)")
        params.extend([value, value, rowid])
    where = f"WHERE {' AND '.join(terms)}" if terms else ""
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {columns}, {tie}, {sort} FROM workflow_executions e {where} "
        f"ORDER BY {sort} {direction}, {tie} {direction} LIMIT ? OFFSET ?"
    )
    params.extend([query.limit, query.offset])
    return dialect.numbered(sql), params


def _compile_search_by_recency(
    query: ExecutionQuery, columns: str, dialect: Dialect
) -> tuple[str, list[Any]]:
    """Full-text search in recording order, driven by the FTS index so it stops after one page.

    Executions are inserted when they start, so rowid order is start order; sorting every match by
    ``started_at`` instead would cost time in proportion to the matches (100+ ms for a common word in
    a million runs)."""
    assert query.search is not None
    source, params = dialect.search_source(query.search)
    terms, filter_params = compile_filters(query, with_search=False, dialect=dialect)
    params.extend(filter_params)
    order = f"s.{dialect.row_order}"
    descending = query.order_dir == "desc"
    if query.cursor is not None:
        _, rowid = decode_cursor(query.cursor)
        terms.append(f"{order} {'<' if descending else '>'} ?")
        params.append(rowid)
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {columns}, e.{dialect.row_order}, e.started_at FROM {source} "
        f"{''.join(' AND ' + term for term in terms)} ORDER BY {order} {direction} LIMIT ? OFFSET ?"
    )
    params.extend([query.limit, query.offset])
    return dialect.numbered(sql), params
