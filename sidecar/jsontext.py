"""Compact JSON text from an encoder built once.

``json.dumps`` with options builds a new C encoder on every call, about a third of its cost on the small
values that hot paths write (step data, stored fields, function parameters). Pure Python where the C
accelerator is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def compact_encoder(
    *, allow_nan: bool, default: Callable[[Any], Any] | None = None, check_circular: bool = True
) -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, ...)`` as a reusable function.

    Without ``check_circular`` a cyclic value ends in RecursionError instead of ValueError."""
    slow = json.JSONEncoder(
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=allow_nan,
        default=default,
        check_circular=check_circular,
    )
    make_c = getattr(json.encoder, "c_make_encoder", None)
    if make_c is None:
        return slow.encode
    markers: dict[int, Any] | None = {} if check_circular else None
    encode_text = json.encoder.encode_basestring
    chunks = make_c(markers, slow.default, encode_text, None, ":", ",", False, False, allow_nan)
    return lambda value: "".join(chunks(value, 0))
