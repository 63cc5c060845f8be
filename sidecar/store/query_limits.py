"""How big a query may be: nesting, list lengths, size, paging (102 beyond), and which filters are costly.

Checked before anything compiles, by a loop rather than recursion, so that no shape of ``where`` reaches
SQLite's parser limits (a statement nested ~20 ``$nor`` deep, or a chain of 1,000 terms, fails to compile)
or Python's recursion limit as a 500. The bounds leave real filters far behind: the SDK's and the editor's
nest a few levels and list a page of ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidQueryError

MAX_NESTING = 16
"""``$and``/``$or``/``$nor`` and subqueries (``$inQuery``, ``$select``, …) inside one another. SQLite's parser
stack (100 entries) accepts about 20 levels of the heaviest, ``$nor``; 16 leaves room for the leaves."""
MAX_LIST_LENGTH = 10_000
"""Values of one ``$in``/``$nin``/``$all``/``$containedBy``, branches of one ``$or``/``$and``/``$nor``. A
statement binds at most 32,766 parameters; lists of ids from a page of results are hundreds long."""
MAX_WHERE_ITEMS = 50_000
"""Keys and values in a whole ``where`` (a JSON body may be 10 MB: a million small values); compiling
50,000 (10,000 pointers) takes ~0.3 s of Python."""
MAX_SQL_TERMS = 2_000
"""Conditions in the compiled statement (a list of values for one ``IN`` counts once). SQLite's planner
takes time quadratic in them before a statement runs, where no time limit reaches: 2,000 take 0.1-0.2 s
(measured: ``$or`` of pairs, ``$in`` on an Object path), 18,000 took 47 s."""
_CHEAP_ITEMS = 256
"""A where up to this size compiles and plans in milliseconds; larger ones run as costly reads."""
MAX_JSON_DEPTH = 64
"""Nesting of any JSON inside a ``where`` (16 levels of operators take about 50)."""
MAX_NAMES = 1_000
"""Entries of ``keys``, ``excludeKeys``, ``include`` and ``order`` (each include path costs a read)."""
MAX_OFFSET = 2**63 - 1
"""``limit``/``skip`` bound: SQLite's integers. A limit past the rows returns them all, so no lower cap."""

_NESTING_KEYS = frozenset(
    {"$and", "$or", "$nor", "$inQuery", "$notInQuery", "$select", "$dontSelect", "$relatedTo"}
)
_LIST_KEYS = frozenset({"$in", "$nin", "$all", "$containedBy", "$and", "$or", "$nor"})
_COSTLY_KEYS = frozenset({"$regex", "$text"})
"""Operators that call Python for every row tested (a backtracking regex can spend seconds on one)."""


_LEAVES = (str, int, float, list, type(None))


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, answered without the ABC check for what JSON decodes to (the checks
    below walk every value of every where)."""
    return type(value) is dict or (not isinstance(value, _LEAVES) and isinstance(value, Mapping))


def check_where(where: Any) -> None:
    """102 when ``where`` nests, lists or holds more than the bounds above allow."""
    too_large = f"the where is too large: more than {MAX_WHERE_ITEMS} keys and values"
    pending: list[tuple[Any, int, int]] = [(where, 0, 1)]  # value, operator nesting, JSON depth
    items = 0
    while pending:
        value, nesting, depth = pending.pop()
        items += 1
        if items > MAX_WHERE_ITEMS:
            raise InvalidQueryError(too_large)
        if depth > MAX_JSON_DEPTH:
            raise InvalidQueryError(f"the where nests JSON more than {MAX_JSON_DEPTH} levels deep")
        if _is_mapping(value):
            for key, inner in value.items():
                deeper = nesting + 1 if key in _NESTING_KEYS else nesting
                if deeper > MAX_NESTING:
                    raise InvalidQueryError(
                        f"the where nests {key} too deeply: at most {MAX_NESTING} levels of "
                        "$and/$or/$nor and subqueries are allowed"
                    )
                if key in _LIST_KEYS and isinstance(inner, list) and len(inner) > MAX_LIST_LENGTH:
                    raise InvalidQueryError(
                        f"{key} has {len(inner)} values: at most {MAX_LIST_LENGTH} are allowed"
                    )
                pending.append((inner, deeper, depth + 1))
        elif isinstance(value, list):
            if len(value) > MAX_WHERE_ITEMS:
                raise InvalidQueryError(too_large)
            pending.extend((inner, nesting, depth + 1) for inner in value)


def check_terms(condition: str) -> None:
    """102 when a compiled condition holds more than ``MAX_SQL_TERMS`` conditions: every placeholder but
    the second and later of a list (``IN (?, ?, ?)``) starts one."""
    check_term_count(condition.count("?") - condition.count(", ?"))


def check_term_count(terms: int) -> None:
    """102 when a compiled condition holds more than ``MAX_SQL_TERMS`` conditions (any SQL dialect)."""
    if terms > MAX_SQL_TERMS:
        raise InvalidQueryError(
            f"the where is too complex: {terms} conditions, at most {MAX_SQL_TERMS} are allowed"
        )


def check_page(limit: int, skip: int) -> None:
    """102 for a ``limit``/``skip`` SQLite cannot take (a negative limit is the store's "no limit")."""
    if not -MAX_OFFSET <= limit <= MAX_OFFSET:
        raise InvalidQueryError(f"limit must be an integer from 0 to {MAX_OFFSET}")
    if not 0 <= skip <= MAX_OFFSET:
        raise InvalidQueryError(f"skip must be an integer from 0 to {MAX_OFFSET}")


def check_names(option: str, names: tuple[str, ...] | None) -> None:
    if names is not None and len(names) > MAX_NAMES:
        raise InvalidQueryError(f"{option} lists {len(names)} names: at most {MAX_NAMES} are allowed")


def is_costly(query: Any) -> bool:
    """Whether a filter (or an aggregate pipeline) uses an operator that runs Python on every row, or is
    large enough to take SQLite noticeable time to plan."""
    pending: list[Any] = [query]
    scanned = 0
    while pending:
        value = pending.pop()
        scanned += 1
        if scanned > _CHEAP_ITEMS:
            return True
        if _is_mapping(value):
            if any(key in _COSTLY_KEYS for key in value):
                return True
            pending.extend(value.values())
        elif isinstance(value, list):
            if len(value) > _CHEAP_ITEMS:
                return True
            pending.extend(value)
    return False
