"""The records store: Parse-compatible data on SQLite, with a where→SQL compiler and a change bus.

Public surface (pinned by ``tests/store/test_public_surface.py``); everything else is private.
"""

from sidecar.store.interface import (
    AuthStore,
    BatchItemResult,
    BatchMethod,
    BatchOp,
    CallerContext,
    CallerKind,
    ChangeAction,
    ChangeEvent,
    ChangeListener,
    CreateResult,
    FetchOptions,
    JsonObject,
    QueryOptions,
    QueryResult,
    RecordStore,
    SaveResult,
    SchemaAdmin,
    Subscription,
)
from sidecar.store.params import fetch_options_from_params, parse_where, query_options_from_params
from sidecar.store.sqlite.connection import Durability
from sidecar.store.store import SqliteRecordStore

__all__ = [
    "AuthStore",
    "BatchItemResult",
    "BatchMethod",
    "BatchOp",
    "CallerContext",
    "CallerKind",
    "ChangeAction",
    "ChangeEvent",
    "ChangeListener",
    "CreateResult",
    "Durability",
    "FetchOptions",
    "JsonObject",
    "QueryOptions",
    "QueryResult",
    "RecordStore",
    "SaveResult",
    "SchemaAdmin",
    "SqliteRecordStore",
    "Subscription",
    "fetch_options_from_params",
    "parse_where",
    "query_options_from_params",
]
