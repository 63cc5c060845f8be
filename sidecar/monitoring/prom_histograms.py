"""One Prometheus histogram family rendered by us, each series' text kept until it changes.

``noodl_function_duration_seconds{workflow,status}`` has up to 1,000 workflows x 3 statuses x 17 lines;
the library's ``generate_latest`` formats every sample of every series at every scrape (about a second
for 1,000 workflows on this machine). Here each series keeps its rendered lines, and a run only marks
its series stale, so a scrape formats just the series that changed since the last one and joins the
rest. The text is the Prometheus exposition format the library writes (``_bucket`` cumulative with
``le``, ``_count``, ``_sum``; no ``_created`` series).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence


def _number(value: float) -> str:
    """A sample value as the text format writes it (``repr``: always parsed back exactly)."""
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class _Series:
    __slots__ = ("counts", "labels", "sum", "text", "total")

    def __init__(self, labels: str, buckets: int) -> None:
        self.labels = labels
        self.counts = [0] * (buckets + 1)  # the last one is +Inf only
        self.total = 0
        self.sum = 0.0
        self.text: bytes | None = None


class HistogramFamily:
    def __init__(
        self, name: str, documentation: str, label_names: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self._label_names = tuple(label_names)
        self._buckets = tuple(float(bound) for bound in buckets)
        self._les = [_number(bound) for bound in self._buckets] + ["+Inf"]
        self._header = f"# HELP {name} {documentation}\n# TYPE {name} histogram\n".encode()
        self._series: dict[tuple[str, ...], _Series] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            text = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(self._label_names, labels, strict=True))
            series = self._series[labels] = _Series(text, len(self._buckets))
        series.counts[bisect_left(self._buckets, value)] += 1
        series.total += 1
        series.sum += value
        series.text = None

    def samples(self, labels: tuple[str, ...]) -> tuple[int, float] | None:
        """``(count, sum)`` of one series (tests)."""
        series = self._series.get(labels)
        return None if series is None else (series.total, series.sum)

    def render(self) -> bytes:
        if not self._series:
            return b""
        parts = [self._header]
        for series in self._series.values():
            if series.text is None:
                series.text = self._render(series)
            parts.append(series.text)
        return b"".join(parts)

    def _render(self, series: _Series) -> bytes:
        name, labels = self.name, series.labels
        lines = []
        cumulative = 0
        for le, count in zip(self._les, series.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels},le="{le}"}} {cumulative}.0\n')
        lines.append(f"{name}_count{{{labels}}} {series.total}.0\n")
        lines.append(f"{name}_sum{{{labels}}} {_number(series.sum)}\n")
        return "".join(lines).encode()
