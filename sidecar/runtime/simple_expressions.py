"""Expressions simple enough to evaluate in Python with exactly JavaScript's result.

Most Expression nodes hold one operator between two inputs or literals (``x + y``, ``count > 0``).
Crossing into the script engine costs more than the arithmetic, so such an expression is evaluated
here when its operands are plain numbers (or, for ``+``, two strings): IEEE doubles behave the same
in both languages. Any other operand (a bool, an object, a number beyond 2**53, a division by zero)
answers :data:`NOT_SIMPLE` and the caller asks the engine, so the result never differs from it.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import Any, Final

NOT_SIMPLE: Final = object()  # "ask the engine": the operands are outside what is evaluated here

_MAX_SAFE_INT: Final = 2**53
_OPERAND = r"(?:[A-Za-z_$][A-Za-z0-9_$]*|(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)"
_BINARY = re.compile(rf"\s*({_OPERAND})\s*(===|!==|<=|>=|[-+*/<>])\s*({_OPERAND})\s*")
_NUMBER_LITERAL = re.compile(r"[0-9]")

_ARITHMETIC: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_COMPARISON: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "===": operator.eq,
    "!==": operator.ne,
}

Evaluator = Callable[[list[Any]], Any]
_Operand = Callable[[list[Any]], Any]


@functools.lru_cache(maxsize=1024)
def compile_simple(source: str, params: tuple[str, ...]) -> Evaluator | None:
    """An evaluator of ``source`` over argument lists ordered as ``params``; None when not simple."""
    match = _BINARY.fullmatch(source)
    if match is None:
        return None
    left_text, op, right_text = match.groups()
    left = _operand(left_text, params)
    right = _operand(right_text, params)
    if left is None or right is None:
        return None
    if op in _COMPARISON:
        return _comparison(_COMPARISON[op], left, right)
    return _arithmetic(op, left, right)


def _operand(text: str, params: tuple[str, ...]) -> _Operand | None:
    if _NUMBER_LITERAL.match(text):
        literal = float(text) if "." in text else int(text)
        return lambda args: literal
    if text not in params:
        return None  # a global (Math's names, undefined, NaN…): the engine knows what it is
    index = params.index(text)
    return lambda args: args[index]


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)


def _comparison(compare: Callable[[Any, Any], bool], left: _Operand, right: _Operand) -> Evaluator:
    def evaluate(args: list[Any]) -> Any:
        a, b = left(args), right(args)
        if _is_number(a) and _is_number(b):
            return compare(a, b)  # NaN compares false and 0 equals -0, as in JavaScript
        return NOT_SIMPLE

    return evaluate


def _arithmetic(op: str, left: _Operand, right: _Operand) -> Evaluator:
    apply = _ARITHMETIC[op]
    concatenates = op == "+"

    def evaluate(args: list[Any]) -> Any:
        a, b = left(args), right(args)
        if _is_number(a) and _is_number(b):
            if op == "/" and b == 0:
                return NOT_SIMPLE  # Infinity, -Infinity or NaN: Python raises instead
            if type(a) is int and type(b) is int and op != "/":
                result = apply(a, b)
                if result == 0 and op == "*" and (a < 0 or b < 0):
                    return -0.0  # JavaScript's 0 * -1 is -0
                return result if -_MAX_SAFE_INT <= result <= _MAX_SAFE_INT else float(result)
            return apply(float(a), float(b))
        if concatenates and type(a) is str and type(b) is str:
            return a + b
        return NOT_SIMPLE

    return evaluate
