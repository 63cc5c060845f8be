"""The package's public names are deliberate: adding or removing one must be a conscious change."""

from __future__ import annotations

import sidecar.store

EXPECTED = {
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
}


def test_public_names_are_exactly_the_curated_list() -> None:
    assert set(sidecar.store.__all__) == EXPECTED
    assert all(hasattr(sidecar.store, name) for name in EXPECTED)


def test_the_sqlite_store_satisfies_every_protocol() -> None:
    protocols = (sidecar.store.RecordStore, sidecar.store.SchemaAdmin, sidecar.store.AuthStore)
    for protocol in protocols:
        wanted = {name for name in vars(protocol) if not name.startswith("_")}
        missing = {
            name for name in wanted if not callable(getattr(sidecar.store.SqliteRecordStore, name, None))
        }
        assert not missing, f"{protocol.__name__}: {missing}"
