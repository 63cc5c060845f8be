"""A mergeable duration histogram with fixed logarithmic buckets: the percentiles of metrics.

Bucket ``k >= 1`` holds durations in ``(GAMMA**(k-2), GAMMA**(k-1)]`` ms and bucket 0 holds 0 ms. The
buckets are the same for every histogram, so two hours (or two workflows) merge by adding counts, and a
percentile over any range is read from the merged counts — never an average of per-hour percentiles.

Error bound: a bucket's estimate is the point that splits it at equal relative distance from both
ends, ``2 * GAMMA**(k-1) / (GAMMA + 1)``, so every reported percentile is within ``RELATIVE_ERROR``
(2 %) of a duration that was really recorded at that rank. Durations are whole milliseconds, so below
~25 ms the 2 % is less than the 1 ms resolution of the data itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import orjson

RELATIVE_ERROR = 0.02
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(GAMMA)
# Bucket of each small duration, computed once: most runs and steps take well under a second.
_SMALL = 4096
_SMALL_KEYS = [0] + [1 + math.ceil(math.log(ms) / _LOG_GAMMA - 1e-9) for ms in range(1, _SMALL)]


def bucket_of(duration_ms: int) -> int:
    if duration_ms < _SMALL:
        return _SMALL_KEYS[duration_ms] if duration_ms > 0 else 0
    return 1 + math.ceil(math.log(duration_ms) / _LOG_GAMMA - 1e-9)


def bucket_value(key: int) -> float:
    """The estimate reported for a duration in bucket ``key`` (see the module's error bound)."""
    if key <= 0:
        return 0.0
    return 2 * GAMMA ** (key - 1) / (GAMMA + 1)


class Histogram:
    """Counts per bucket key (sparse); ``add``, ``merge``, ``quantile``; JSON text for storage."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})

    def add(self, duration_ms: int, count: int = 1) -> None:
        key = bucket_of(duration_ms)
        self.counts[key] = self.counts.get(key, 0) + count

    def merge(self, other: Histogram) -> None:
        counts = self.counts
        for key, count in other.counts.items():
            counts[key] = counts.get(key, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The nearest-rank ``q`` quantile (0 < q <= 1) in ms, or None when empty."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return round(bucket_value(key), 1)
        return round(bucket_value(max(self.counts)), 1)  # pragma: no cover - rank <= total

    def to_text(self) -> str:
        """``[key, count, key, count, …]``: a flat array reads back several times faster than an object
        (no string keys to convert), which is most of a query's time over many hours."""
        flat = [number for pair in self.counts.items() for number in pair]
        return orjson.dumps(flat).decode()

    @classmethod
    def from_text(cls, text: str | None) -> Histogram:
        histogram = cls()
        if text:
            flat = orjson.loads(text)
            histogram.counts = dict(zip(flat[::2], flat[1::2], strict=True))
        return histogram

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        result = cls()
        for histogram in histograms:
            result.merge(histogram)
        return result
