"""The shape of a read: what kind of read it is (class, keys, operators, options), without its values.

Two finds that differ only in the values they compare against cost SQLite about the same (the same plan),
so the store routes reads by shape (:mod:`sidecar.store.sqlite.inline`). Shapes are hashable and built
from the request alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from sidecar.store.interface import FetchOptions, QueryOptions


def where_shape(value: Any) -> Hashable:
    """Keys and operators kept, every value replaced by its type."""
    if isinstance(value, Mapping):
        return tuple((key, where_shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return ("[]", *(where_shape(item) for item in value))
    return type(value).__name__


def find_shape(class_name: str, options: QueryOptions) -> Hashable:
    """A skip makes SQLite step over rows, so a page with one is another shape than the first page."""
    return (
        "find",
        class_name,
        where_shape(options.where),
        options.order,
        options.limit,
        options.skip > 0,
        options.count,
        options.keys,
        options.include,
    )


def count_shape(class_name: str, where: Mapping[str, Any]) -> Hashable:
    return ("count", class_name, where_shape(where))


def fetch_shape(class_name: str, options: FetchOptions) -> Hashable:
    return ("get", class_name, options.keys, options.include)
