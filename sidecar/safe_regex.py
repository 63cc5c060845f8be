"""Regular expressions written by callers (``$regex`` in queries, subscription and node filters).

A pattern is checked before it compiles and is matched with a time limit:

- at most ``MAX_PATTERN_LENGTH`` characters, and no counted repetition (``{n}``, ``{n,}``, ``{n,m}``) above
  ``MAX_REPEAT``; the ``regex`` engine unrolls counted repetitions when it compiles (about 250-700 bytes per
  unrolled item, measured), so ``a{1000000000}`` or ``(?:a{30000}){30000}`` would allocate gigabytes;
- the *expanded size* (the pattern's length with every counted repetition unrolled, nested counts multiplied)
  at most ``MAX_EXPANDED_SIZE``, so a compiled pattern stays below ~7 MB;
- matches run on the ``regex`` engine (``re``'s syntax and results via ``VERSION0``), which releases the GIL
  and stops a match after ``timeout`` seconds (``TimeoutError``): catastrophic backtracking ends on time.
  The engine counts CPU seconds, so on a machine busy with other work a stopped match lasts longer.

Refusals are 102 (the pattern is valid but more than this server runs); a pattern that does not compile is
107 ``bad regex``; ``$options`` letters outside ``imxs`` are 102, as Parse answers.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections import OrderedDict
from types import ModuleType
from typing import TYPE_CHECKING

from sidecar.errors import InvalidJsonError, InvalidQueryError
from sidecar.lazy import Lazy

if TYPE_CHECKING:
    import regex

_REGEX: Lazy[ModuleType] = Lazy(lambda: importlib.import_module("regex"))
"""The ``regex`` engine, loaded by the first pattern (most backends' queries have none)."""

MAX_PATTERN_LENGTH = 1_000
"""A search box's text wrapped by the SDK (``\\Q…\\E``) fits many times over; longer is a payload."""
MAX_REPEAT = 1_000
"""Per counted repetition; real patterns count digits and words (``\\d{4}``), PCRE itself stops at 65,535."""
MAX_EXPANDED_SIZE = 10_000
"""Unrolled items of one pattern (~2.6-7 MB compiled); a 1,000-character literal is 1,000."""
_CACHE_BUDGET = 50_000
"""Expanded size kept compiled across queries (tens of MB at most), least recently used first out."""

_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "x": "VERBOSE", "s": "DOTALL"}
"""``$options`` letters → the engine's flag names."""
_QUOTED_SPAN = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)
_COUNTED = re.compile(r"\{(\d*)(,?)(\d*)\}")
_BRACED_ESCAPES = frozenset("pPNx")  # escapes whose braces hold a name or code point, not a count


def translate_pattern(pattern: str) -> str:
    r"""PCRE ``\Q…\E`` literal spans (what the SDK emits) → escaped Python regex text."""
    return _QUOTED_SPAN.sub(lambda m: re.escape(m.group(1)), pattern)


def check_options(options: object) -> str:
    """``$options`` → its letters (``None`` is none); other letters → 102, as Parse answers."""
    if options is None:
        return ""
    if not isinstance(options, str) or any(letter not in _FLAGS for letter in options):
        raise InvalidQueryError(f"Bad $options value for query: {options}")
    return options


def compile_pattern(pattern: object, options: object = None) -> regex.Pattern[str]:
    """The compiled pattern after every check above (102/107); compiled patterns are cached by size."""
    if not isinstance(pattern, str):
        raise InvalidJsonError("bad regex")
    letters = check_options(options)
    return _CACHE.get(pattern, letters)


def expanded_size(pattern: str, *, verbose: bool = False) -> int:
    """The size ``pattern`` (Python syntax) has with its counted repetitions unrolled; raises 102 for a
    count above ``MAX_REPEAT``. An estimate that errs high: group syntax and alternatives count as items."""
    sums = [0]  # per open group: the expanded size of what it holds so far
    last = 0  # size of the item a quantifier would repeat (0: nothing to repeat)
    index, end = 0, len(pattern)
    while index < end:
        char = pattern[index]
        if char == "\\":
            index = _escape_end(pattern, index)
            sums[-1], last = sums[-1] + 1, 1
        elif char == "[":
            index = _class_end(pattern, index)
            sums[-1], last = sums[-1] + 1, 1
        elif char == "(" and pattern.startswith("(?#", index):
            close = pattern.find(")", index)
            index = end if close < 0 else close + 1
        elif char == "(":
            sums.append(0)
            index, last = index + 1, 0
        elif char == ")":
            inner = sums.pop() if len(sums) > 1 else 0
            sums[-1], last = sums[-1] + inner, inner
            index += 1
        elif char == "{" and (counted := _COUNTED.match(pattern, index)) and (counted[1] or counted[3]):
            low = int(counted[1] or 0)
            high = int(counted[3]) if counted[3] else (None if counted[2] else low)
            if max(low, high or 0) > MAX_REPEAT:
                raise InvalidQueryError(
                    f"$regex repetition {counted[0]} is too large: a count may be at most {MAX_REPEAT}"
                )
            times = max(1, high if high is not None else low)
            sums[-1], last = sums[-1] + last * (times - 1), last * times
            index = counted.end()
        elif verbose and char == "#":
            newline = pattern.find("\n", index)
            index = end if newline < 0 else newline + 1
        elif (verbose and char.isspace()) or char in "*+?":
            index += 1  # unbounded quantifiers loop instead of unrolling; ``last`` stays for ``a {3}``
        elif char == "|":
            index, last = index + 1, 0
        else:
            sums[-1], last = sums[-1] + 1, 1
            index += 1
        if sums[-1] > MAX_EXPANDED_SIZE:
            break  # already too big: no need to read on (a count could otherwise grow huge integers)
    return sum(sums)


def _escape_end(pattern: str, index: int) -> int:
    """Past ``\\x``, including a braced argument (``\\p{L}``, ``\\N{…}``, ``\\x{41}``), which is no count."""
    after = index + 2
    if after < len(pattern) and pattern[index + 1] in _BRACED_ESCAPES and pattern[after] == "{":
        close = pattern.find("}", after)
        return len(pattern) if close < 0 else close + 1
    return after


def _class_end(pattern: str, index: int) -> int:
    """Past a ``[...]`` set: a ``]`` first (or after ``^``) is a member, ``\\]`` is escaped."""
    index += 1
    if index < len(pattern) and pattern[index] == "^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return index


class _PatternCache:
    """Compiled patterns by (pattern, options), bounded by their total expanded size; thread-safe."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._entries: OrderedDict[tuple[str, str], tuple[regex.Pattern[str], int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, pattern: str, options: str) -> regex.Pattern[str]:
        key = (pattern, options)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
        compiled, size = _compile_checked(pattern, options)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (compiled, size)
                self._used += size
            while self._used > self._budget and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._used -= dropped
        return compiled


def _compile_checked(pattern: str, options: str) -> tuple[regex.Pattern[str], int]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidQueryError(
            f"$regex is too long: {len(pattern)} characters, at most {MAX_PATTERN_LENGTH} are allowed"
        )
    translated = translate_pattern(pattern)
    size = expanded_size(translated, verbose="x" in options)
    if size > MAX_EXPANDED_SIZE:
        raise InvalidQueryError(
            f"$regex repeats too much: unrolled it would hold more than {MAX_EXPANDED_SIZE} items"
        )
    engine = _REGEX.get()
    flags = engine.VERSION0  # the ``re`` module's behaviour
    for letter in options:
        flags |= getattr(engine, _FLAGS[letter])
    try:
        compiled: regex.Pattern[str] = engine.compile(translated, flags)
        return compiled, max(size, 1)
    except (engine.error, OverflowError, RecursionError) as exc:
        raise InvalidJsonError(f"bad regex: {exc}") from exc


_CACHE = _PatternCache(_CACHE_BUDGET)
