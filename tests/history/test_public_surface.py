"""The names other packages may import from ``sidecar.history`` and ``sidecar.events`` (a curated surface)."""

from __future__ import annotations

import sidecar.events
import sidecar.history


def test_history_public_names() -> None:
    assert sorted(sidecar.history.__all__) == [
        "ExecutionHistory",
        "ExecutionQuery",
        "HistoryConfig",
        "HistoryRecorder",
        "HistoryStore",
        "RerunRequest",
        "RetentionConfig",
        "RunRecorder",
        "RunTrigger",
        "Scrubber",
        "SqliteHistoryStore",
        "apply_retention",
        "rerun_request",
        "scrub_request",
    ]
    for name in sidecar.history.__all__:
        assert getattr(sidecar.history, name) is not None


def test_events_public_names() -> None:
    assert sorted(sidecar.events.__all__) == [
        "EventBus",
        "EventKind",
        "EventPosition",
        "ExecutionEvent",
        "ReplaySource",
        "Subscription",
        "replay_and_follow",
    ]


def test_events_know_nothing_of_history_or_transports() -> None:
    import sys

    loaded = [name for name in sys.modules if name.startswith("sidecar.events")]
    for name in loaded:
        source = sys.modules[name].__file__
        assert source is not None
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        for forbidden in ("sidecar.history", "sidecar.ipc", "sidecar.web", "aiohttp", "msgpack"):
            assert f"import {forbidden}" not in text
            assert f"from {forbidden}" not in text
