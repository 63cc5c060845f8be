"""Parse REST query parameters → :class:`QueryOptions` / :class:`FetchOptions`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidJsonError, InvalidQueryError
from sidecar.store.interface import FetchOptions, QueryOptions
from sidecar.store.query_limits import MAX_OFFSET

_ACCEPTED = frozenset(
    {
        "where",
        "order",
        "limit",
        "skip",
        "keys",
        "excludeKeys",
        "include",
        "includeAll",
        "count",
        "redirectClassNameForKey",
        "readPreference",
        "includeReadPreference",
        "subqueryReadPreference",
        "hint",
        "explain",
        "comment",
    }
)
_FETCH_ACCEPTED = frozenset({"keys", "include", "excludeKeys", "readPreference", "includeReadPreference"})


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _count(name: str, value: Any, default: int) -> int:
    """``limit``/``skip``: a non-negative integer SQLite can hold (102 otherwise, never a 500)."""
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(1e400) is int(inf)
        raise InvalidQueryError(f"{name} must be an integer") from exc
    if not 0 <= number <= MAX_OFFSET:
        raise InvalidQueryError(f"{name} must be an integer from 0 to {MAX_OFFSET}")
    return number


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "0", "false", "")


def parse_where(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidJsonError("where parameter is not valid JSON") from exc
        except RecursionError as exc:  # nested past the decoder's limit (~1,000 levels)
            raise InvalidQueryError("the where nests JSON too deeply") from exc
    if not isinstance(value, Mapping):
        raise InvalidQueryError("where must be a JSON object")
    return value


def query_options_from_params(params: Mapping[str, Any]) -> QueryOptions:
    """Unknown parameters → 102 ``Invalid parameter for query: <key>``."""
    for key in params:
        if key not in _ACCEPTED:
            raise InvalidQueryError(f"Invalid parameter for query: {key}")
    include = _names(params.get("include"))
    if _truthy(params.get("includeAll")):
        include = (*include, "*")
    keys = params.get("keys")
    return QueryOptions(
        where=parse_where(params.get("where")),
        order=_names(params.get("order")),
        limit=_count("limit", params.get("limit"), 100),
        skip=_count("skip", params.get("skip"), 0),
        keys=None if keys is None else _names(keys),
        exclude_keys=_names(params.get("excludeKeys")),
        include=include,
        count=_truthy(params.get("count")),
    )


def fetch_options_from_params(params: Mapping[str, Any]) -> FetchOptions:
    """``GET /classes/C/:id`` accepts only keys/include/excludeKeys (102 ``Improper encode of parameter``)."""
    if any(key not in _FETCH_ACCEPTED for key in params):
        raise InvalidQueryError("Improper encode of parameter")
    keys = params.get("keys")
    return FetchOptions(
        keys=None if keys is None else _names(keys),
        exclude_keys=_names(params.get("excludeKeys")),
        include=_names(params.get("include")),
    )
