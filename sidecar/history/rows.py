"""Values the recorder produces and the store writes: one execution row, one step row, ids and statuses.

JSON columns arrive here already scrubbed and serialized (text); the store never sees live objects.
"""

from __future__ import annotations

import enum
import functools
import random
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

_BASE36 = string.digits + string.ascii_lowercase
# Ids need to be unique, not secret: a PRNG seeded from the OS once avoids a system call per run.
_ids = random.Random(secrets.randbits(128))


class ExecutionStatus(enum.StrEnum):
    """``running`` → ``success`` | ``error``; a crash leaves ``running``, fixed to ``error`` at start."""

    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"


class StepStatus(enum.StrEnum):
    """``running`` → ``success`` | ``error``; ``skipped`` steps never ran."""

    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    SKIPPED = "skipped"


TRIGGER_TYPES = frozenset({"webhook", "schedule", "manual", "db_change", "internal_event", "test"})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_BASE36_PAIRS = [a + b for a in _BASE36 for b in _BASE36]  # "00" … "zz": two digits per lookup


def base36(number: int) -> str:
    pairs = []
    while True:
        number, rest = divmod(number, 1296)
        pairs.append(_BASE36_PAIRS[rest])
        if number == 0:
            return "".join(reversed(pairs)).lstrip("0") or "0"


def new_execution_id(at_ms: int | None = None) -> str:
    """``exec_`` + base36(epoch ms) + 8 random base36 characters."""
    stamp = _stamp(now_ms() if at_ms is None else at_ms)
    high, low = divmod(_ids.getrandbits(64) % 36**8, 36**4)  # 64 bits: a negligible modulo bias
    pairs = _BASE36_PAIRS
    return "exec_" + stamp + pairs[high // 1296] + pairs[high % 1296] + pairs[low // 1296] + pairs[low % 1296]


@functools.lru_cache(maxsize=1)
def _stamp(ms: int) -> str:
    """Runs started within one millisecond share their stamp: convert it once."""
    return base36(ms)


def step_id(execution_id: str, step_index: int) -> str:
    """Steps are named after their execution and position: unique without another random draw."""
    return f"step_{execution_id.removeprefix('exec_')}_{step_index}"


class ExecutionRow(NamedTuple):
    """One ``workflow_executions`` row, fields in column order (the tuple is the statement's parameters).

    Rows are named tuples rather than frozen dataclasses: the recorder builds one per node step on the
    runtime's hot path, where a frozen dataclass's ``__init__`` costs several times more."""

    id: str
    workflow_id: str
    workflow_name: str
    trigger_type: str
    status: str
    started_at: int
    trigger_data: str | None = None
    completed_at: int | None = None
    duration_ms: int | None = None
    error_message: str | None = None
    error_stack: str | None = None
    metadata: str | None = None
    last_seq: int = 0


StepData = str | dict[str, Any] | None
"""A step's input or output: JSON text as stored. On the way to the database it may also be a small flat
dict of scalars, which the writer serializes with its batch; its size is then -1 until the writer
measures the text (see ``scrub.Scrubber.storable_as_is`` and ``db_write``)."""


class StepRow(NamedTuple):
    """One ``execution_steps`` row, fields in column order."""

    id: str
    execution_id: str
    node_id: str
    node_type: str
    step_index: int
    started_at: int
    status: str
    node_name: str | None = None
    completed_at: int | None = None
    duration_ms: int | None = None
    input_data: StepData = None
    output_data: StepData = None
    error_message: str | None = None
    run_index: int = 0
    start_seq: int = 0
    seq: int = 0
    input_size: int = 0
    output_size: int = 0


class SearchText(NamedTuple):
    """The full-text body of one finished execution: its error texts; the writer adds its steps' output
    previews, read back from the stored steps (see ``db_write``). A named tuple: one per run."""

    execution_id: str
    body: str


@dataclass(frozen=True)
class WriteBatch:
    """One writer transaction. Rows with the same id replace earlier ones (latest state wins)."""

    executions: list[ExecutionRow] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    search: list[SearchText] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.executions) + len(self.steps) + len(self.search)
