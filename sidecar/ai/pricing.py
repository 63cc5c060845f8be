"""Estimated cost of a call from the price table in ``prices.json`` (dollars per million tokens)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def _table() -> dict[str, dict[str, dict[str, float]]]:
    text = resources.files("sidecar.ai").joinpath("prices.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {provider: prices for provider, prices in data.items() if not provider.startswith("_")}


def estimated_cost(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for this many tokens, or ``None`` when the table knows no price for ``model``."""
    prices = _table().get(provider, {})
    matches = [key for key in prices if model.startswith(key)]
    if not matches:
        return None
    price = prices[max(matches, key=len)]
    return round((input_tokens * price["input"] + output_tokens * price["output"]) / 1_000_000, 8)
