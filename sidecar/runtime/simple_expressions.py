"""Expressions simple enough to evaluate in Python with exactly JavaScript's result.

Most Expression nodes are a little arithmetic over their inputs (``x + y``, ``count > 0``,
``a * b + max(a, b)``). Crossing into the script engine costs more than the arithmetic, so such an
expression is evaluated here when every operand is a plain number (or, for ``+``, both are strings):
IEEE doubles behave the same in both languages. What is understood: number literals, inputs,
parentheses, unary minus, ``* / % + -``, ``< > <= >=``, ``=== !==`` with JavaScript's precedence and
left-to-right grouping, and the Math helpers ``min``, ``max`` and ``abs`` an Expression has in scope.
Any other source compiles to None; any other operand (a bool, an object, a number beyond 2**53, a
division by zero) answers :data:`NOT_SIMPLE` at run time and the caller asks the engine, so the
result never differs from it.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable
from typing import Any, Final

NOT_SIMPLE: Final = object()  # "ask the engine": the operands are outside what is evaluated here

_MAX_SAFE_INT: Final = 2**53
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)(?![0-9A-Za-z_$.])"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<op>===|!==|<=|>=|[-+*/%<>(),]))"
)

_COMPARISON: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "===": operator.eq,
    "!==": operator.ne,
}
# Binary operators by precedence level, loosest first (JavaScript's order for these).
_LEVELS: Final = (("===", "!=="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

Evaluator = Callable[[list[Any]], Any]


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)


def _tokens(source: str) -> list[str] | None:
    """The source's tokens, or None when it holds anything this module does not read."""
    if "--" in source or "++" in source:
        return None  # JavaScript's increment and decrement, not two signs
    tokens: list[str] = []
    position, end = 0, len(source.rstrip())
    while position < end:
        match = _TOKEN.match(source, position)
        if match is None:
            return None
        tokens.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return tokens


@functools.lru_cache(maxsize=1024)
def compile_simple(source: str, params: tuple[str, ...]) -> Evaluator | None:
    """An evaluator of ``source`` over argument lists ordered as ``params``; None when not simple."""
    tokens = _tokens(source)
    if not tokens:
        return None
    parser = _Parser(tokens, params)
    evaluate = parser.expression(0)
    if evaluate is None or parser.position != len(tokens):
        return None
    return evaluate


class _Parser:
    """Recursive descent over the tokens; each rule gives an evaluator, or None for a source it
    does not understand (the whole expression is then left to the engine)."""

    def __init__(self, tokens: list[str], params: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.params = params
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, token: str) -> bool:
        if self._peek() == token:
            self.position += 1
            return True
        return False

    def expression(self, level: int) -> Evaluator | None:
        if level == len(_LEVELS):
            return self._unary()
        left = self.expression(level + 1)
        while left is not None and self._peek() in _LEVELS[level]:
            op = self.tokens[self.position]
            self.position += 1
            right = self.expression(level + 1)
            if right is None:
                return None
            left = _comparison(op, left, right) if op in _COMPARISON else _arithmetic(op, left, right)
        return left

    def _unary(self) -> Evaluator | None:
        if self._take("-"):
            operand = self._unary()
            return None if operand is None else _negation(operand)
        return self._primary()

    def _primary(self) -> Evaluator | None:
        token = self._peek()
        if token is None:
            return None
        self.position += 1
        if token == "(":
            inner = self.expression(0)
            return inner if inner is not None and self._take(")") else None
        if token[0].isdigit():
            literal = float(token) if "." in token else int(token)
            return lambda args: literal
        if token in self.params:
            index = self.params.index(token)
            return lambda args: args[index]
        if token in _MATH and self._take("("):
            return self._call(_MATH[token])
        return None  # a global (other Math names, undefined, NaN…) or syntax: the engine knows

    def _call(self, function: Callable[[list[Any]], Any]) -> Evaluator | None:
        found: list[Evaluator] = []
        if not self._take(")"):
            while True:
                argument = self.expression(0)
                if argument is None:
                    return None
                found.append(argument)
                if self._take(")"):
                    break
                if not self._take(","):
                    return None
        arguments = tuple(found)  # immutable: a scope template shares the evaluator between runs

        def evaluate(args: list[Any]) -> Any:
            values = []
            for argument in arguments:
                value = argument(args)
                if not _is_number(value):
                    return NOT_SIMPLE
                values.append(value)
            return function(values)

        return evaluate


def _math_max(values: list[Any]) -> Any:
    """``Math.max``: NaN wins, and +0 is larger than -0."""
    result: Any = -math.inf
    for value in values:
        if value != value:
            return math.nan
        if value > result or (value == 0 and result == 0 and math.copysign(1.0, result) < 0):
            result = value
    return result


def _math_min(values: list[Any]) -> Any:
    """``Math.min``: NaN wins, and -0 is smaller than +0."""
    result: Any = math.inf
    for value in values:
        if value != value:
            return math.nan
        if value < result or (value == 0 and result == 0 and math.copysign(1.0, value) < 0):
            result = value
    return result


def _math_abs(values: list[Any]) -> Any:
    return abs(values[0]) if values else math.nan


_MATH: Final[dict[str, Callable[[list[Any]], Any]]] = {"max": _math_max, "min": _math_min, "abs": _math_abs}


def _comparison(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    compare = _COMPARISON[op]

    def evaluate(args: list[Any]) -> Any:
        a, b = left(args), right(args)
        if _is_number(a) and _is_number(b):
            return compare(a, b)  # NaN compares false and 0 equals -0, as in JavaScript
        return NOT_SIMPLE

    return evaluate


def _negation(operand: Evaluator) -> Evaluator:
    def evaluate(args: list[Any]) -> Any:
        value = operand(args)
        if not _is_number(value):
            return NOT_SIMPLE
        return -0.0 if value == 0 and type(value) is int else -value

    return evaluate


def _arithmetic(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    def evaluate(args: list[Any]) -> Any:
        a, b = left(args), right(args)
        if _is_number(a) and _is_number(b):
            return _number_operation(op, a, b)
        if op == "+" and type(a) is str and type(b) is str:
            return a + b
        return NOT_SIMPLE

    return evaluate


def _number_operation(op: str, a: Any, b: Any) -> Any:
    if op == "/" or op == "%":
        if b == 0:
            return NOT_SIMPLE  # Infinity, -Infinity or NaN: Python raises instead
        if op == "/":
            return float(a) / float(b)
        if math.isinf(a):
            return math.nan  # JavaScript's Infinity % x; Python's fmod raises
        result = math.fmod(float(a), float(b))  # the dividend's sign, -0 included, as JavaScript's %
        if type(a) is int and type(b) is int and (result != 0 or math.copysign(1.0, result) > 0):
            return int(result)
        return result
    if type(a) is int and type(b) is int:
        result = a * b if op == "*" else (a + b if op == "+" else a - b)
        if result == 0 and op == "*" and (a < 0 or b < 0):
            return -0.0  # JavaScript's 0 * -1 is -0
        return result if -_MAX_SAFE_INT <= result <= _MAX_SAFE_INT else float(result)
    a, b = float(a), float(b)
    return a * b if op == "*" else (a + b if op == "+" else a - b)
