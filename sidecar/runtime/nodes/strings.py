"""String nodes: String Format, Substring, String Mapper, Boolean To String, Date To String."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from sidecar.runtime.js_date import parse_date_string
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string, js_truthy, strict_equals

_PLACEHOLDER = re.compile(r"\{[A-Za-z0-9_]*\}")
_REPLACEMENT_PATTERN = re.compile(r"\$([$&`'])")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def js_replace_first(text: str, search: str, replacement: str) -> str:
    """``text.replace(search, replacement)`` with a string pattern: ``$$ $& $` $'`` are expanded."""
    index = text.find(search)
    if index < 0:
        return text
    before, after = text[:index], text[index + len(search) :]
    if "$" not in replacement:  # nothing to expand: most values
        return before + replacement + after
    expansions = {"$": "$", "&": search, "`": before, "'": after}
    expanded = _REPLACEMENT_PATTERN.sub(lambda m: expansions[m.group(1)], replacement)
    return before + expanded + after


def _utf16_units(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def js_substr(text: str, start: Any, length: Any = UNDEFINED) -> str:
    """``String.prototype.substr`` over UTF-16 code units (may split a surrogate pair)."""
    units = _utf16_units(text)
    size = len(units) // 2
    begin = _to_integer(start)
    if begin < 0:
        begin = max(size + begin, 0)
    count = size - begin if length is UNDEFINED else min(max(_to_integer(length), 0), size - begin)
    if count <= 0:
        return ""
    return units[2 * begin : 2 * (begin + count)].decode("utf-16-le", "surrogatepass")


def _to_integer(value: Any) -> int:
    number = js_to_number(value)
    if number != number:  # NaN
        return 0
    if number in (float("inf"), float("-inf")):
        return 10**15 if number > 0 else -(10**15)
    return int(number)


@functools.lru_cache(maxsize=1024)  # an export has few distinct formats; every run formats them again
def _placeholders(text: str) -> tuple[tuple[str, str], ...]:
    """``(placeholder, name)`` for every ``{name}`` in a format, in order (repeats included)."""
    return tuple((placeholder, placeholder[1:-1]) for placeholder in _PLACEHOLDER.findall(text))


@functools.cache
def _format_value_input(name: str) -> InputSpec:
    """A String Format value input; the same spec for every node (it closes over the name only)."""

    def store(node: StringFormatNode, value: Any) -> None:
        values = node.values
        if name in values:
            before = values[name]
            # strict_equals, with its common cases first: the same object is the same value (NaN
            # aside), and a string equals only an equal string.
            if before is value:
                if type(value) is not float:
                    return
            elif type(before) is str:
                if type(value) is str and before == value:
                    return
            elif strict_equals(before, value):
                return
        values[name] = value
        node.result_dirty = True
        if not node._scheduled:  # _schedule, inlined: every value of every String Format
            node._scheduled = True
            node.schedule_after_inputs(node._publish)

    return InputSpec(name, "string", set=store)


class StringFormatNode(Node):
    TYPE = "String Format"
    CATEGORY = "String Manipulation"
    SAME_EVERY_RUN = True
    SHARES_DYNAMIC_PORTS = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.format = ""
        self.values: dict[str, Any] = {}
        self.cached = ""
        self.result_dirty = False
        self._scheduled = False

    def _set_format(self, value: Any) -> None:
        if strict_equals(self.format, value):
            return
        self.format = value
        self.result_dirty = True
        self._schedule()

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _format_value_input(name)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._publish)

    def _publish(self) -> None:
        if not isinstance(self.format, str):
            # Noodl's `format.match(…)` throws for a format that is not a string: Formatted keeps its
            # last value and, the throw skipping the reset of its flag, the node never formats again
            # in this run.
            return
        # flag_output_dirty("formatted") for a caller that has the value the output's getter reads
        self.send_output("formatted", self.formatted())
        self._scheduled = False

    def formatted(self) -> str:
        if self.result_dirty:
            text = self.format
            if type(text) is not str:
                text = js_to_string(text)
            values = self.values
            for placeholder, name in _placeholders(text):
                value = values.get(name, UNDEFINED)
                if value is UNDEFINED:
                    replacement = ""
                else:
                    replacement = value if type(value) is str else js_to_string(value)
                index = text.find(placeholder)
                if index >= 0 and "$" not in replacement:  # js_replace_first's common case, inlined
                    text = text[:index] + replacement + text[index + len(placeholder) :]
                else:
                    text = js_replace_first(text, placeholder, replacement)
            self.cached = text
            self.result_dirty = False
        return self.cached

    INPUTS = (
        InputSpec(
            "format",
            {"name": "string", "multiline": True},
            set=_set_format,
            priority=1,
            display_name="Format",
        ),
    )
    OUTPUTS = (OutputSpec("formatted", "string", get=lambda n: n.formatted(), display_name="Formatted"),)


class SubstringNode(Node):
    TYPE = "Substring"
    CATEGORY = "String Manipulation"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.start: Any = 0
        self.end: Any = -1  # -1: not set, meaning "to the end"
        self.text = ""

    def _set_start(self, value: Any) -> None:
        self.start = value
        self.flag_output_dirty("result")

    def _set_end(self, value: Any) -> None:
        self.end = value
        self.flag_output_dirty("result")

    def _set_string(self, value: Any) -> None:
        if value is None or value is UNDEFINED:
            return  # the real runner's `value.toString()` throws here: the string stays as it was
        self.text = js_to_string(value)
        self.flag_output_dirty("result")

    def result(self) -> str:
        if strict_equals(self.end, -1):
            return js_substr(self.text, self.start)
        return js_substr(self.text, self.start, js_to_number(self.end) - js_to_number(self.start))

    INPUTS = (
        InputSpec("start", "number", set=_set_start, default=0, display_name="Start"),
        InputSpec("end", "number", set=_set_end, default=0, display_name="End"),
        InputSpec("string", "string", set=_set_string, default="", display_name="String"),
    )
    OUTPUTS = (OutputSpec("result", "string", get=lambda n: n.result(), display_name="Result"),)


class StringMapperNode(Node):
    """Maps ``inputString`` to the mapping with the same index among ``input <i>``/``output <i>``."""

    TYPE = "String Mapper"
    CATEGORY = "Utilities"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.inputs: dict[int, str] = {}
        self.mappings: dict[int, str] = {}
        self.current: Any = UNDEFINED
        self.default: Any = UNDEFINED
        self.mapped: Any = UNDEFINED
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        prefix, _, index_text = name.rpartition(" ")
        if prefix not in ("input", "output") or not index_text.isdigit():
            return None
        table = self.inputs if prefix == "input" else self.mappings
        index = int(index_text)

        def store(node: Node, value: Any) -> None:
            table[index] = "" if value is UNDEFINED else js_to_string(value)
            self._schedule()

        label = "Input" if prefix == "input" else "Mapping"
        return InputSpec(name, "string", set=store, display_name=f"{label} {index}")

    def _set_input_string(self, value: Any) -> None:
        self.current = UNDEFINED if value is UNDEFINED else js_to_string(value)
        self._schedule()

    def _set_default(self, value: Any) -> None:
        self.default = value
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._map)

    def _map(self) -> None:
        self._scheduled = False
        index = next((i for i in sorted(self.inputs) if self.inputs[i] == self.current), None)
        self.mapped = self.mappings.get(index, UNDEFINED) if index is not None else self.default
        self.flag_output_dirty("mappedString")

    INPUTS = (
        InputSpec("inputString", "string", set=_set_input_string, display_name="Input String"),
        InputSpec("defaultMapping", "string", set=_set_default, display_name="Default", group="Mappings"),
    )
    OUTPUTS = (
        OutputSpec(
            "mappedString", "string", get=lambda n: n.mapped, display_name="Mapped String", group="Value"
        ),
    )


class BooleanToStringNode(Node):
    TYPE = "Boolean To String"
    CATEGORY = "Utilities"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.true_string: Any = ""
        self.false_string: Any = ""
        self.current: Any = UNDEFINED

    def _set_true(self, value: Any) -> None:
        if strict_equals(self.true_string, value):
            return
        self.true_string = value
        if js_truthy(self.current):
            self.flag_output_dirty("currentValue")

    def _set_false(self, value: Any) -> None:
        if strict_equals(self.false_string, value):
            return
        self.false_string = value
        if not js_truthy(self.current):
            self.flag_output_dirty("currentValue")

    def _set_input(self, value: Any) -> None:
        if strict_equals(self.current, value):
            return
        self.current = value
        self.flag_output_dirty("currentValue")
        self.send_signal("inputChanged")

    INPUTS = (
        InputSpec("trueString", "string", set=_set_true, display_name="String for true"),
        InputSpec("falseString", "string", set=_set_false, display_name="String for false"),
        InputSpec("input", "boolean", set=_set_input, display_name="Selector"),
    )
    OUTPUTS = (
        OutputSpec(
            "currentValue",
            "string",
            get=lambda n: n.true_string if js_truthy(n.current) else n.false_string,
            display_name="Current Value",
            group="Value",
        ),
        OutputSpec("inputChanged", "signal", display_name="Selector Changed", group="Signals"),
    )


def parse_js_date(value: Any) -> datetime | None:
    """The local time of ``new Date(string)`` (or of a ``{__type: 'Date', iso}``); None for anything
    else, where Noodl's ``getDate()`` would throw or give NaN."""
    if isinstance(value, dict) and value.get("__type") == "Date":
        value = value.get("iso")
    if not isinstance(value, str):
        return None
    moment = parse_date_string(value)
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone()
    except (OverflowError, ValueError, OSError):
        return None


class DateToStringNode(Node):
    """Formats in local time; numbers and invalid dates give ``''`` and never fire Invalid Date."""

    TYPE = "Date To String"
    CATEGORY = "Utilities"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.format = "{year}-{month}-{date}"
        self.current: Any = UNDEFINED
        self.text: Any = UNDEFINED

    def _set_format(self, value: Any) -> None:
        if strict_equals(self.format, value):
            return
        self.format = value
        if self.current is not UNDEFINED:
            self._format()
            self.flag_output_dirty("currentValue")  # a second time, as Noodl's setter does

    def _set_input(self, value: Any) -> None:
        # Noodl turns a string into a new Date object before comparing, so a string always counts
        # as new; anything else is compared with ===.
        if not isinstance(value, str) and strict_equals(self.current, value):
            return
        self.current = value
        self._format()

    def _format(self) -> None:
        """Write Date String (``''`` for an unreadable date), then flag it and fire Date Changed."""
        moment = parse_js_date(self.current)
        if moment is None:
            self.text = ""
        else:
            year = str(moment.year)
            parts = {
                "date": f"{moment.day:02d}",
                "month": f"{moment.month:02d}",
                "monthShort": _MONTHS[moment.month - 1],
                "year": year,
                "yearShort": year[2:],
                "hours": f"{moment.hour:02d}",
                "minutes": f"{moment.minute:02d}",
                "seconds": f"{moment.second:02d}",
            }
            text = js_to_string(self.format)
            for key, part in parts.items():  # Noodl's order of replacements
                text = text.replace("{" + key + "}", part)
            self.text = text
        self.flag_output_dirty("currentValue")
        self.send_signal("inputChanged")

    INPUTS = (
        InputSpec(
            "formatString", "string", set=_set_format, default="{year}-{month}-{date}", display_name="Format"
        ),
        InputSpec("input", "date", set=_set_input, display_name="Date"),
    )
    OUTPUTS = (
        OutputSpec("currentValue", "string", get=lambda n: n.text, display_name="Date String", group="Value"),
        OutputSpec("inputChanged", "signal", display_name="Date Changed", group="Signals"),
        OutputSpec("onError", "signal", display_name="Invalid Date", group="Signals"),
    )
