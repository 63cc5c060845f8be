"""JavaScript value semantics the graph relies on, expressed over Python values.

Graph values are plain Python values standing for JavaScript ones: ``None`` is ``null``,
:data:`UNDEFINED` is ``undefined``, ``int``/``float`` are JS numbers (doubles), ``str``, ``bool``,
``list`` (Array), ``dict`` (plain object, insertion-ordered) and :class:`~sidecar.runtime.objects.Model`.
The helpers reproduce what the real runner observably does with them: ``JSON.stringify`` text,
``String(v)``, truthiness, ``JSON.parse`` of a request body and ``for…in`` key order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, Final

import orjson


class _Undefined:
    """The JavaScript ``undefined``: never sent on a connection, dropped from objects."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()

_MAX_SAFE_INT: Final = 2**53
_INDEX_KEY = re.compile(r"0|[1-9][0-9]{0,9}")
_DIGITS = frozenset("0123456789")
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_undefined(value: object) -> bool:
    return value is UNDEFINED


def js_truthy(value: object) -> bool:
    """JavaScript ``!!value``: objects and arrays are truthy even when empty; NaN is falsy."""
    if value is None or value is UNDEFINED or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, float):
        return value != 0.0 and not math.isnan(value)
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def js_number_str(number: float) -> str:
    """ECMAScript ``Number::toString`` (shortest round-trip digits, JS exponent thresholds)."""
    if isinstance(number, int) and not isinstance(number, bool) and abs(number) < _MAX_SAFE_INT:
        return str(number)
    number = float(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"  # -0 prints as 0 in JavaScript
    sign = "-" if number < 0 else ""
    mantissa, _, exp_text = repr(abs(number)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    significant = all_digits.lstrip("0")
    # point: where the decimal point sits relative to the first significant digit (ECMAScript "n").
    point = len(int_part) + (int(exp_text) if exp_text else 0) - (len(all_digits) - len(significant))
    digits = significant.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exponent = point - 1
    exp_sign = "+" if exponent >= 0 else "-"
    body = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{sign}{body}e{exp_sign}{abs(exponent)}"


def js_to_string(value: object) -> str:
    """JavaScript ``String(value)``."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return js_number_str(value)
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, list):
        return ",".join("" if item is None or item is UNDEFINED else js_to_string(item) for item in value)
    return "[object Object]"


def _encode_string(text: str) -> str:
    encoded: str = encode_basestring(text)
    if not encoded.isascii() and _SURROGATE.search(encoded):  # isascii is O(1): skips the scan
        # Well-formed JSON.stringify escapes lone surrogates instead of emitting them raw.
        encoded = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
    return encoded


def js_stringify(value: object) -> str | None:
    """``JSON.stringify(value)``; ``None`` where JavaScript returns ``undefined``."""
    if _orjson_writes_as_js(value, 0):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, nesting past orjson's limit: written below
            pass
    parts: list[str] = []
    if not _write(value, parts):
        return None
    return "".join(parts)


# Values orjson writes byte for byte as JSON.stringify does: exact str/bool/None, integers JavaScript holds
# exactly, and floats in the range both print in positional notation without a trailing ".0" (orjson
# writes 20.0 and 1e-6 where JavaScript writes 20 and 0.000001); containers of those whose keys cannot
# be array indexes (JavaScript lists those first). Anything else (undefined, models, NaN) takes _write.
_ORJSON_SCALARS: Final = frozenset({str, bool, type(None)})
_ORJSON_FLOAT_MIN: Final = 1e-5
_ORJSON_FLOAT_MAX: Final = 1e15
_ORJSON_DEPTH: Final = 64  # deeper values take _write (orjson refuses nesting past 255)


def _orjson_writes_as_js(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind in _ORJSON_SCALARS:
        return True
    if kind is int:
        return bool(-_MAX_SAFE_INT < value < _MAX_SAFE_INT)
    if kind is float:
        return _ORJSON_FLOAT_MIN <= abs(value) < _ORJSON_FLOAT_MAX and not value.is_integer()
    if depth >= _ORJSON_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or key[:1] in _DIGITS:
                return False
            if type(item) not in _ORJSON_SCALARS and not _orjson_writes_as_js(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _ORJSON_SCALARS and not _orjson_writes_as_js(item, depth + 1):
                return False
        return True
    return False


def _write(value: object, out: list[str]) -> bool:
    """Append the JSON text of ``value``; False when the value is not serialisable (undefined)."""
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif type(value) is int and -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
        out.append(str(value))  # the common case, printed by js_number_str just the same
    elif isinstance(value, int | float):
        text = js_number_str(value)
        out.append("null" if text in ("NaN", "Infinity", "-Infinity") else text)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            if not _write(item, out):
                out.append("null")
        out.append("]")
    elif isinstance(value, dict):
        _write_object(value, out)
    else:
        to_json: Callable[[], object] | None = getattr(value, "to_json", None)
        if to_json is None:
            return False
        return _write(to_json(), out)
    return True


def _write_object(value: dict[str, Any], out: list[str]) -> None:
    out.append("{")
    first = True
    for key in for_in_keys(value):
        mark = len(out)
        out.append(("" if first else ",") + _encode_string(key) + ":")
        if _write(value[key], out):
            first = False
        else:
            del out[mark:]
    out.append("}")


def for_in_keys(obj: dict[str, Any]) -> list[str]:
    """Own-key order of a JavaScript object: array-index keys ascending, then the rest as inserted."""
    keys = list(obj)
    # The first-character test spares the regex for the usual keys, which cannot be indexes.
    index_keys = [
        key for key in keys if key[:1] in _DIGITS and _INDEX_KEY.fullmatch(key) and int(key) < 2**32 - 1
    ]
    if not index_keys:
        return keys
    rest = [key for key in keys if not (_INDEX_KEY.fullmatch(key) and int(key) < 2**32 - 1)]
    return sorted(index_keys, key=int) + rest


def _parse_int(text: str) -> int | float:
    number = int(text)
    return number if abs(number) < _MAX_SAFE_INT else float(text)


def _reject_constant(text: str) -> object:
    raise ValueError(f"not JSON: {text}")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_reject_constant)  # built once, not per call


# Sixteen digits in a row may be an integer past 2**53, which JSON.parse makes a double and orjson an int.
_LONG_DIGITS: Final = re.compile("[0-9]{16}")


def js_json_parse(text: str) -> object:
    """``JSON.parse``: numbers become doubles (ints kept exact below 2**53); raises ValueError."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)  # several times faster; as strict as JSON.parse
        except orjson.JSONDecodeError:  # also a lone surrogate escape or 1e400, which JSON.parse reads
            pass
    return _DECODER.decode(text)


def strict_equals(left: object, right: object) -> bool:
    """JavaScript ``===``: numbers by value (NaN unequal), other primitives by value, objects by identity."""
    left_number = isinstance(left, int | float) and not isinstance(left, bool)
    right_number = isinstance(right, int | float) and not isinstance(right, bool)
    if left_number or right_number:
        return left_number and right_number and left == right
    if isinstance(left, str | bool) or left is None or left is UNDEFINED:
        return type(left) is type(right) and left == right
    return left is right


_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_JS_RADIX = {
    "0x": (16, re.compile(r"[0-9a-fA-F]+")),
    "0o": (8, re.compile(r"[0-7]+")),
    "0b": (2, re.compile(r"[01]+")),
}
# What Number() trims: JavaScript's WhiteSpace (every Unicode space separator) and line terminators.
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_to_number(value: object) -> int | float:
    """JavaScript ``Number(value)``."""
    if value is True or value is False:
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if isinstance(value, list):
        return js_to_number(js_to_string(value))
    if not isinstance(value, str):
        return math.nan
    text = value.strip(_JS_WHITESPACE)
    if not text:
        return 0
    radix = _JS_RADIX.get(text[:2].lower())
    if radix is not None:
        base, digits = radix
        return int(text[2:], base) if digits.fullmatch(text[2:]) else math.nan
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text.startswith("-") else math.inf
    if not _JS_DECIMAL.fullmatch(text):
        return math.nan
    number = float(text)
    if number == 0:
        return number if text.startswith("-") else 0  # Number("-0") is -0
    return int(number) if number.is_integer() and abs(number) < _MAX_SAFE_INT else number


def _to_primitive(value: object) -> object:
    """ToPrimitive with hint number, for the values the runtime holds: arrays join, objects print."""
    if isinstance(value, list | dict) or not (
        value is None or value is UNDEFINED or isinstance(value, str | bool | int | float)
    ):
        return js_to_string(value)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def js_loose_equals(left: object, right: object) -> bool:
    """JavaScript ``left == right`` (the abstract equality comparison)."""
    nullish = (None, UNDEFINED)
    if left in nullish or right in nullish:
        return left in nullish and right in nullish
    if type(left) is type(right) or (_is_number(left) and _is_number(right)):
        return strict_equals(left, right)
    if isinstance(left, bool) or isinstance(right, bool):
        return js_loose_equals(
            int(left) if isinstance(left, bool) else left, int(right) if isinstance(right, bool) else right
        )
    if (isinstance(left, str) and _is_number(right)) or (_is_number(left) and isinstance(right, str)):
        return js_to_number(left) == js_to_number(right)
    left_object = isinstance(left, list | dict)
    right_object = isinstance(right, list | dict)
    if left_object != right_object:  # an object against a string or number compares its primitive
        return js_loose_equals(_to_primitive(left), _to_primitive(right))
    return left is right


def js_less_than(left: object, right: object) -> bool:
    """JavaScript ``left < right``."""
    return _relation(left, right) is True


def js_at_most(left: object, right: object) -> bool:
    """JavaScript ``left <= right``: ``right < left`` is false (and neither side is NaN)."""
    return _relation(right, left) is False


def _relation(left: object, right: object) -> bool | None:
    """The abstract relational comparison ``left < right``; None where JavaScript's is undefined (a
    NaN side). Two strings compare by UTF-16 code units, anything else as numbers."""
    left, right = _to_primitive(left), _to_primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        if left.isascii() and right.isascii():
            return left < right
        return left.encode("utf-16-be", "surrogatepass") < right.encode("utf-16-be", "surrogatepass")
    left_number, right_number = js_to_number(left), js_to_number(right)
    if math.isnan(left_number) or math.isnan(right_number):
        return None
    return left_number < right_number
