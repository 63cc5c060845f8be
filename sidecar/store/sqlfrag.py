"""A tiny value type for SQL text with its bound parameters, combined in reading order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sql:
    text: str
    params: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return self.text


TRUE = Sql("1")
FALSE = Sql("0")


def sql(text: str, *params: Any) -> Sql:
    return Sql(text, tuple(params))


def fmt(template: str, *parts: Sql) -> Sql:
    """Fill ``{}`` placeholders left to right; parameters follow the same order as the text."""
    params: list[Any] = []
    for part in parts:
        params.extend(part.params)
    return Sql(template.format(*(part.text for part in parts)), tuple(params))


_FLAT = 32
"""Terms joined in one chain at most: SQLite nests a chain of N terms N deep and refuses depth 1,000, so
longer lists are grouped in parenthesised chains of chains (10,000 terms: three levels)."""


def join(separator: str, parts: Iterable[Sql]) -> Sql:
    items = list(parts)
    if len(items) == 1:  # the commonest case (one term of a where, one ACL test): no joining to do
        return Sql(f"({items[0].text})", items[0].params)
    while len(items) > _FLAT:
        items = [join(separator, items[i : i + _FLAT]) for i in range(0, len(items), _FLAT)]
    params: list[Any] = []
    for part in items:
        params.extend(part.params)
    return Sql(separator.join(f"({part.text})" for part in items), tuple(params))


def _is_constant(part: Sql, text: str) -> bool:
    """``part == TRUE``/``FALSE`` without the dataclass's generated ``__eq__`` (every query compiles
    through here several times)."""
    return part.text == text and not part.params


def all_of(parts: Iterable[Sql]) -> Sql:
    items = [p for p in parts if not _is_constant(p, "1")]
    if any(_is_constant(p, "0") for p in items):
        return FALSE
    return join(" AND ", items) if items else TRUE


def any_of(parts: Iterable[Sql]) -> Sql:
    items = [p for p in parts if not _is_constant(p, "0")]
    if any(_is_constant(p, "1") for p in items):
        return TRUE
    return join(" OR ", items) if items else FALSE


def negate(part: Sql) -> Sql:
    """Logical NOT; sound because every predicate we build is two-valued (never NULL)."""
    if part == TRUE:
        return FALSE
    if part == FALSE:
        return TRUE
    return fmt("NOT ({})", part)
