"""JavaScript value semantics over Python values: what bodies look like byte for byte."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.runtime.jsengine import JsEngine, JsLimits
from sidecar.runtime.values import (
    _DECODER,
    UNDEFINED,
    _write,
    js_at_most,
    js_json_parse,
    js_less_than,
    js_loose_equals,
    js_number_str,
    js_stringify,
    js_to_number,
)
from tests.runtime.graphs import scratch_run


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (49.0, "49"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e-5, "0.000015"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_numbers_print_as_javascript_does(number: float, text: str) -> None:
    assert js_number_str(number) == text


def test_stringify_drops_undefined_escapes_lone_surrogates_and_keeps_unicode_raw() -> None:
    value = {"a": UNDEFINED, "b": [UNDEFINED, 1.0], "c": "\u2028\x7f\x00\ud800é"}
    assert js_stringify(value) == '{"b":[null,1],"c":"\u2028\x7f\\u0000\\ud800é"}'


def test_big_integers_become_doubles_as_json_parse_makes_them() -> None:
    assert js_stringify(js_json_parse("[12345678901234567890, 1e400]")) == "[12345678901234567000,null]"


# JSON-shaped values with the edges of the writers: integral, tiny and huge floats, -0, ints past 2**53,
# array-index keys, control characters, lone surrogates and non-ASCII text.
_INDEX_LIKE_KEYS = st.sampled_from(["a", "0", "10", "4294967295", "-1", "01", "", "é"])
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([20.0, -0.0, 1e-6, 1e-5, 1e15, 1e21, 2.5, 0.1])
    | st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_INDEX_LIKE_KEYS | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES)
def test_stringify_fast_path_writes_what_the_javascript_writer_writes(value: object) -> None:
    # js_stringify hands values orjson writes exactly to orjson; the step-by-step writer (checked
    # against JavaScript above and by the conformance cases) is the reference for every value.
    parts: list[str] = []
    assert _write(value, parts)
    assert js_stringify(value) == "".join(parts)


def _typed(value: object) -> object:
    """``value`` with every leaf paired with its type: 1 and 1.0 differ, as int and double do here."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES, st.sampled_from(["", " ", "\n"]))
def test_json_parse_reads_every_text_as_the_strict_decoder_does(value: object, space: str) -> None:
    text = space + json.dumps(value, ensure_ascii=False) + space
    assert _typed(js_json_parse(text)) == _typed(_DECODER.decode(text))


@pytest.mark.parametrize("text", ["{'a': 1}", "[1,]", '"\x01"', "01", "", "[1] 2"])
def test_json_parse_refuses_what_json_parse_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        js_json_parse(text)
    with pytest.raises(ValueError, match="not JSON: NaN"):
        js_json_parse("[NaN]")


@pytest.mark.parametrize(
    ("text", "number"), [(" 42 ", 42), ("", 0), ("0x1f", 31), ("1e3", 1000), ("abc", None)]
)
def test_to_number_follows_javascript(text: str, number: float | None) -> None:
    result = js_to_number(text)
    assert result != result if number is None else result == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_is_the_shortest_that_reads_back(number: float) -> None:
    # V8 (the real runner) prints the shortest round-tripping digits; so must bodies we build.
    text = js_number_str(number)
    assert float(text) == number
    assert len(text.lstrip("-").replace(".", "").split("e")[0].strip("0")) <= 17


@pytest.mark.parametrize(
    ("expression", "args", "expected"),
    [
        ("a * b", [6, 7], 42),
        ("a * b", ["6", "7"], 42),
        ("a * b", [2**40, 2], 2**41),  # beyond 32 bits: passed as JSON, not as a direct argument
        ("a + b", [[1, 2], 3], "1,23"),
        ("a + b", [{"k": 1}, 0], "[object Object]0"),
        ("a + b", ["x", None], "xnull"),
        ("a + b", [True, 1], 2),
        ("a.b", [{"b": None}, 0], None),
    ],
)
def test_expressions_get_javascript_answers_on_both_argument_paths(
    expression: str, args: list[object], expected: object
) -> None:
    engine = JsEngine(JsLimits(stretch_seconds=10))
    handle = engine.compile_expression(expression, ("a", "b"))
    assert engine.call_expression(scratch_run(engine), handle, args) == expected


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("3", 3, True),
        (True, "1", True),
        (False, 0, True),
        (None, UNDEFINED, True),
        (None, 0, False),
        ("", 0, True),
        ([1, 2], "1,2", True),
        ({"a": 1}, "[object Object]", True),
        (math.nan, math.nan, False),
        ("a", "A", False),
    ],
)
def test_loose_equality_is_javascripts(left: object, right: object, equal: bool) -> None:
    assert js_loose_equals(left, right) is equal
    assert js_loose_equals(right, left) is equal


@pytest.mark.parametrize(
    ("left", "right", "less", "at_most"),
    [
        ("10", "9", True, True),  # two strings compare as text
        ("10", 9, False, False),  # otherwise as numbers
        (3, "3", False, True),
        (UNDEFINED, 1, False, False),  # NaN: every ordered comparison is false
        (None, 1, True, True),  # null is 0
        ("\U0001f600", "\uffff", True, True),  # UTF-16 code units: a surrogate sorts below U+FFFF
    ],
)
def test_relational_comparison_is_javascripts(left: object, right: object, less: bool, at_most: bool) -> None:
    assert (js_less_than(left, right), js_at_most(left, right)) == (less, at_most)


def test_number_keeps_negative_zero_and_trims_every_javascript_space() -> None:
    assert math.copysign(1, js_to_number("-0")) == -1
    assert js_to_number("\u3000 42\u2003\n") == 42
    assert math.isnan(js_to_number("\x1c42"))  # a separator Python trims but JavaScript does not
    assert math.isnan(js_to_number("0x1_0"))
