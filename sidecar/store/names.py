"""Names that reach SQL: validated against Parse's patterns, then double-quoted.

No string from a request is ever spliced into SQL unless it passed one of these checks.
"""

from __future__ import annotations

import functools
import re

from sidecar.errors import InvalidClassNameError, InvalidKeyNameError, InvalidQueryError

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_]+$")

SYSTEM_CLASSES = frozenset({"_User", "_Role", "_Session", "_Installation"})
"""System classes this store knows; other ``_``-prefixed names are refused."""

DEFAULT_FIELDS = ("objectId", "createdAt", "updatedAt", "ACL")
"""Present on every class; cannot be declared, renamed or deleted."""


def validate_class_name(name: object) -> str:
    if isinstance(name, str) and _known_class_name(name):
        return name
    if not isinstance(name, str) or not (_NAME_RE.match(name) or name in SYSTEM_CLASSES):
        raise InvalidClassNameError(
            f"Invalid classname: {name}, classnames can only have alphanumeric "
            "characters and _, and must start with an alpha character "
        )
    return name


@functools.lru_cache(maxsize=1024)
def _known_class_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) or name in SYSTEM_CLASSES


def validate_field_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in ("className", "length"):
        raise InvalidKeyNameError(f"Invalid field name: {name}.")
    return name


@functools.lru_cache(maxsize=4096)  # every key of every written object: the same few names, over and over
def is_valid_field_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) and name not in ("className", "length")


def quote(identifier: str) -> str:
    """Double-quote an identifier that was validated (the escape is a second line of defence)."""
    return '"' + identifier.replace('"', '""') + '"'


def join_table(owner_class: str, field_name: str) -> str:
    """The join table of a Relation field."""
    return f"_Join_{field_name}_{owner_class}"


def json_path(segments: list[str]) -> str:
    """A SQLite JSON path literal for nested keys; segments are checked, so the literal is safe to inline."""
    for segment in segments:
        if not _PATH_SEGMENT_RE.match(segment):
            raise InvalidQueryError(f"Invalid nested key: {segment}")
    return "'$" + "".join(f'."{segment}"' for segment in segments) + "'"
