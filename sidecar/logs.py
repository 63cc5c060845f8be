"""Logging: one JSON object per line on stderr, never on stdout.

Lines go through a bounded queue to a writer thread: if the editor stops draining
stderr, the pipe fills and only that thread blocks; once the queue is full, lines are
dropped and counted rather than freezing the event loop.
Records can also be forwarded as ``$/log`` notifications when the editor asks. Before either, well-known
secret formats in any field (a URL with a password, a bearer token in an error) are replaced by
``[REDACTED:<kind>]`` (``sidecar.secret_text``).
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from sidecar.secret_text import redact_secrets

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_MAX_LINE = 4000  # a write below PIPE_BUF (4096) is atomic on a pipe
_MAX_FIELD = 400
_QUEUE_LINES = 10_000

Forward = Callable[[dict[str, Any]], None]


class _Settings:
    level = LEVELS["info"]
    forward: Forward | None = None
    forward_level = LEVELS["info"]
    forwarding = False  # re-entrancy guard: forwarding must not log itself


class _StderrSink:
    """Bounded queue drained by one daemon thread writing to fd 2."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_LINES)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        try:
            self._queue.put_nowait(line.encode("utf-8", "replace") + b"\n")
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                os.write(2, item)
            except OSError:
                return

    def close(self, timeout: float = 1.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)


_sink: _StderrSink | None = None


class _SinkLogger:
    """structlog's final logger: every level method hands the rendered line to the sink."""

    def msg(self, message: str) -> None:
        if _sink is not None:
            _sink.put(message)

    debug = info = warning = warn = error = critical = exception = log = msg


def _drop_below_level(_logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    if LEVELS.get(method_name, LEVELS["error"] if method_name == "exception" else 20) < _Settings.level:
        raise structlog.DropEvent
    return event_dict


def _add_pid(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    event_dict["pid"] = os.getpid()
    return event_dict


def hide_secrets(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The processor that replaces well-known secret formats in every field, nested ones included."""
    for key, value in event_dict.items():
        clean = _without_secrets(value, 0)
        if clean is not value:
            event_dict[key] = clean  # an existing key: the mapping does not change size while iterated
    return event_dict


_PLAIN = (int, float, bool, type(None))
_MAX_DEPTH = 4


def _without_secrets(value: Any, depth: int) -> Any:
    """``value`` itself when it holds no secret; otherwise a copy (or its repr) with the secrets hidden."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, _PLAIN):
        return value
    if depth < _MAX_DEPTH and isinstance(value, dict):
        items = {key: _without_secrets(item, depth + 1) for key, item in value.items()}
        return value if all(items[key] is item for key, item in value.items()) else items
    if depth < _MAX_DEPTH and isinstance(value, list | tuple):
        listed = [_without_secrets(item, depth + 1) for item in value]
        return value if all(new is old for new, old in zip(listed, value, strict=True)) else listed
    # Anything else is rendered with repr (an exception, a URL object, exc_info): hide secrets in that.
    text = repr(value)
    clean = redact_secrets(text)
    return value if clean is text else clean


def _forward(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    forward = _Settings.forward
    level = LEVELS.get(str(event_dict.get("level")), 20)
    if forward is not None and not _Settings.forwarding and level >= _Settings.forward_level:
        _Settings.forwarding = True
        try:
            forward({key: _shorten(value) for key, value in event_dict.items()})
        finally:
            _Settings.forwarding = False
    return event_dict


def _shorten(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value[:_MAX_FIELD] + "…" if isinstance(value, str) and len(value) > _MAX_FIELD else value
    return _shorten(repr(value))


def _render(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> str:
    line = json.dumps(event_dict, default=repr, ensure_ascii=False)
    if len(line) <= _MAX_LINE:
        return line
    short = {key: _shorten(value) for key, value in event_dict.items()}
    short["truncated"] = True
    return json.dumps(short, ensure_ascii=False)[:_MAX_LINE]


def configure(level: str = "info") -> None:
    """Set up structlog and stdlib logging; safe to call more than once."""
    global _sink
    if _sink is None:
        _sink = _StderrSink()
    set_level(level)
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_pid,
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _drop_below_level,
            *shared,
            structlog.processors.format_exc_info,
            hide_secrets,
            _forward,
            _render,
        ],
        logger_factory=lambda *_args: _SinkLogger(),
        cache_logger_on_first_use=True,
    )
    handler = _StdlibHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[hide_secrets, _forward, _render], foreign_pre_chain=shared
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # library chatter below warning is not ours to show
    logging.captureWarnings(True)
    faulthandler.enable(sys.stderr)
    sys.excepthook = _log_uncaught


class _StdlibHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < _Settings.level:
            return
        try:
            line = self.format(record)
        except Exception:  # a broken third-party record must not break logging
            line = json.dumps({"event": "unformattable_log_record", "logger": record.name})
        if _sink is not None:
            _sink.put(line)


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    structlog.get_logger("sidecar").critical("uncaught_exception", exc_info=(exc_type, exc, tb))


def set_level(level: str) -> None:
    _Settings.level = LEVELS[level]


def forward_to(forward: Forward | None, level: str = "info") -> None:
    """Also hand each record at ``level`` or above to ``forward`` (``None`` stops it)."""
    _Settings.forward = forward
    _Settings.forward_level = LEVELS[level]


def dropped_lines() -> int:
    return _sink.dropped if _sink is not None else 0


def flush(timeout: float = 1.0) -> None:
    """Write out queued lines before the process exits."""
    global _sink
    if _sink is not None:
        _sink.close(timeout)
        _sink = None
