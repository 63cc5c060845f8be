"""Expressions evaluated in Python give exactly what the script engine gives, or defer to it."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.runtime import JsEngine, JsLimits
from sidecar.runtime.simple_expressions import NOT_SIMPLE, compile_simple
from sidecar.runtime.values import js_number_str, strict_equals
from tests.runtime.graphs import scratch_run

ENGINE = JsEngine(JsLimits(stretch_seconds=10))
RUN = scratch_run(ENGINE)
OPERATORS = ("+", "-", "*", "/", "<", ">", "<=", ">=", "===", "!==")

numbers = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31),
    st.integers(min_value=-(2**60), max_value=2**60),
    # Finite only: the engine's arguments travel as JSON beyond 32-bit integers, and JSON turns
    # NaN and Infinity into null (JavaScript's own results are checked below).
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 0.0, 1, -1, 0.1, 0.2, 2**53, 2**53 + 1, -(2**53)]),
)
operands = st.one_of(numbers, st.text(max_size=5), st.booleans(), st.none(), st.just([1]))


def engine_result(source: str, params: tuple[str, ...], args: list[Any]) -> Any:
    return ENGINE.call_expression(RUN, ENGINE.compile_expression(source, params), args)


def same_js_value(python: Any, engine: Any) -> bool:
    """Equal as JavaScript sees them, NaN included. The sign of a zero is not compared: the engine's
    results travel as JSON beyond 32-bit integers, and JSON writes -0 as 0."""
    if isinstance(engine, int | float) and not isinstance(engine, bool):
        if not isinstance(python, int | float) or isinstance(python, bool):
            return False
        if math.isnan(engine):
            return math.isnan(python)
        if engine == 0:
            return python == 0
        return js_number_str(python) == js_number_str(engine)
    return strict_equals(python, engine)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(OPERATORS), operands, operands)
def test_two_inputs_give_the_engines_answer_or_defer(op: str, a: Any, b: Any) -> None:
    source = f"a {op} b"
    evaluate = compile_simple(source, ("a", "b"))
    assert evaluate is not None
    result = evaluate([a, b])
    if result is not NOT_SIMPLE:
        assert same_js_value(result, engine_result(source, ("a", "b"), [a, b])), (source, a, b, result)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(OPERATORS), numbers, st.sampled_from(["0", "1", "10", "2.5", "0.1", "7"]))
def test_a_literal_operand_is_read_as_javascript_reads_it(op: str, a: Any, literal: str) -> None:
    source = f"x{op}{literal}"
    evaluate = compile_simple(source, ("x",))
    assert evaluate is not None
    result = evaluate([a])
    if result is not NOT_SIMPLE:
        assert same_js_value(result, engine_result(source, ("x",), [a])), (source, a, result)


def test_plain_numbers_and_strings_are_evaluated_here() -> None:
    assert compile_simple("x + y", ("x", "y"))([1, 2]) == 3  # type: ignore[misc]
    assert compile_simple("n > 10", ("n",))([11]) is True  # type: ignore[misc]
    assert compile_simple("a + b", ("a", "b"))(["ab", "cd"]) == "abcd"  # type: ignore[misc]
    assert math.copysign(1, compile_simple("a * b", ("a", "b"))([0, -3])) == -1  # type: ignore[misc]


def test_nan_and_infinity_follow_javascript() -> None:
    add = compile_simple("x + y", ("x", "y"))
    less = compile_simple("x < y", ("x", "y"))
    same = compile_simple("x === y", ("x", "y"))
    assert add is not None
    assert less is not None
    assert same is not None
    assert add([math.inf, 1]) == math.inf
    assert math.isnan(add([math.inf, -math.inf]))
    assert less([math.nan, 1]) is False
    assert less([1, math.nan]) is False
    assert same([math.nan, math.nan]) is False
    assert same([0, -0.0]) is True


def test_anything_else_is_left_to_the_engine() -> None:
    sources = ("a.b + 1", "x + pi", "010 + x", "--x", "+x", "x == y", "'a' + x", "max(a", "(a + b", "a b")
    for source in sources:
        assert compile_simple(source, ("a", "b", "x", "y")) is None, source
    add = compile_simple("x + y", ("x", "y"))
    assert add is not None
    for args in ([1, "2"], [True, 1], [None, 1], [[1], 2], [2**60, 1], [1, 2**53 + 2]):
        assert add(args) is NOT_SIMPLE, args
    assert compile_simple("x / y", ("x", "y"))([1, 0]) is NOT_SIMPLE  # type: ignore[misc]


# Expressions built from what the evaluator reads: inputs, literals, Math helpers, unary minus, every
# binary operator at every precedence, parentheses.
_LEAVES = st.sampled_from(["a", "b", "c", "0", "1", "2.5", "7", "0.1"])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from([*OPERATORS, "%"]), children).map(" ".join)
    call = st.tuples(st.sampled_from(["min", "max", "abs"]), st.lists(children, max_size=3)).map(
        lambda parts: f"{parts[0]}({', '.join(parts[1])})"
    )
    grouped = children.map(lambda text: f"({text})")
    negated = children.map(lambda text: f"- {text}")
    return st.one_of(binary, grouped, negated, call)


expressions = st.recursive(_LEAVES, _combine, max_leaves=6)


@settings(max_examples=600, deadline=None)
@given(expressions, st.lists(numbers, min_size=3, max_size=3))
def test_compound_expressions_give_the_engines_answer_or_defer(source: str, args: list[Any]) -> None:
    params = ("a", "b", "c")
    evaluate = compile_simple(source, params)
    assert evaluate is not None, source
    result = evaluate(args)
    if result is not NOT_SIMPLE:
        assert same_js_value(result, engine_result(source, params, args)), (source, args, result)


def test_compound_arithmetic_and_math_helpers_are_evaluated_here() -> None:
    evaluate = compile_simple("a * b + max(a, b)", ("a", "b"))
    assert evaluate is not None
    assert evaluate([6, 7]) == 49
    assert compile_simple("(a + b) * 2 - -c % 4", ("a", "b", "c"))([1, 2, 5]) == 7  # type: ignore[misc]
    assert compile_simple("min(a, b) === abs(-a)", ("a", "b"))([3, 4]) is True  # type: ignore[misc]
    assert math.isnan(compile_simple("max(a, b)", ("a", "b"))([math.nan, 1]))  # type: ignore[misc]
    assert math.copysign(1, compile_simple("-a", ("a",))([0])) == -1  # type: ignore[misc]
    assert math.copysign(1, compile_simple("a % 2", ("a",))([-4])) == -1  # type: ignore[misc]
    assert compile_simple("max(a, b)", ("a", "b"))([1, "2"]) is NOT_SIMPLE  # type: ignore[misc]
