"""A pool of warm Python worker processes, driven from the event loop without blocking it.

Each worker is ``noodl-sidecar python-worker`` (``python -m sidecar python-worker`` from source),
started lazily on the first call, with asyncio subprocess pipes. A call takes an idle worker (or
starts one, up to ``size``), writes one msgpack map and reads one back through
:class:`~sidecar.ipc.framing.FrameDecoder`. Before its answer the code may send host requests
(``{"host": [op, args]}``, from ``noodl.records``); the call's ``host`` handler answers each on the
event loop, and the worker goes on.

A worker is killed, and a fresh one started for a later call, when a call exceeds its wall time,
is cancelled (its run settled or timed out), runs out of CPU or memory, or the process dies. A
worker is retired after ``max_runs`` calls or once its resident memory grew by more than
``max_growth_bytes`` since its first call (user code may leave modules or caches behind).

The worker's environment is built from an allow-list (no admin token, API keys or credentials
of the sidecar reach it), ``HOME`` and ``TMPDIR`` point into the pool's scratch folder, which is
also its working directory.

Limits by system: on Linux and macOS the worker sets its own rlimits (``RLIMIT_AS`` for memory,
soft and hard; ``RLIMIT_CPU`` per call, rounded up to whole seconds of the worker's total); on
Windows there are none, so only the wall time (the run's own timeout, and the pool's ceiling)
stops a call. macOS does not enforce ``RLIMIT_AS`` on every allocation. What isolation does not
cover: a worker runs as the sidecar's user, so files that user can read are readable to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import structlog

from sidecar.ipc.framing import FrameDecoder, RejectedMessage

log = structlog.get_logger()

_MIB = 1024 * 1024
_READ_SIZE = 1 << 16
_STDERR_TAIL = 2000
# Environment variables a worker may inherit: locale, time zone, search paths. Nothing else.
_ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "SYSTEMROOT", "PYTHONHASHSEED")


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Per call: CPU seconds; per worker: address space; recycling thresholds."""

    cpu_seconds: float = 10.0
    memory_bytes: int = 512 * _MIB
    # A backstop: a node's call is bounded by its run, which cancels the call (killing the worker) when
    # it settles or times out; this ceiling frees the worker of a run that has no timeout at all.
    wall_seconds: float = 300.0
    max_runs: int = 5000
    max_growth_bytes: int = 64 * _MIB


@dataclass(slots=True)
class CallResult:
    """What a call did: ``ok``, ``result`` (expressions), ``effects`` in order, ``logs``, ``error``."""

    ok: bool
    result: Any = None
    effects: list[list[Any]] = field(default_factory=list)
    logs: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


# What the sidecar does for user code that asks it (``noodl.records``): (op, args) → the result;
# an exception's ``message`` (or text) goes back to the code as ``noodl.RecordsError``.
HostHandler = Callable[[str, list[Any]], Awaitable[Any]]


class PythonLimitError(Exception):
    """A call exceeded a limit or its worker died; the worker is gone and the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def worker_command() -> list[str]:
    """The same executable in worker mode: the frozen binary, or this interpreter with ``-m sidecar``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "python-worker"]
    return [sys.executable, "-m", "sidecar", "python-worker"]


def worker_environment(scratch: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in _ENV_ALLOWED if name in os.environ}
    if getattr(sys, "frozen", False):
        env.pop("PYTHONPATH", None)
    tmp = scratch / "tmp"
    env.update(
        HOME=str(scratch),
        TMPDIR=str(tmp),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONNOUSERSITE="1",
    )
    return env


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, generation: int = 0) -> None:
        self.process = process
        self.generation = generation
        self.decoder = FrameDecoder()
        self.runs = 0
        self.baseline_rss: int | None = None
        self.stderr_tail = b""
        self.stderr_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    async def drain_stderr(self) -> None:
        """Keep the end of what the worker wrote to stderr, for the report of a crash."""
        stream = self.process.stderr
        assert stream is not None
        while data := await stream.read(_READ_SIZE):
            self.stderr_tail = (self.stderr_tail + data)[-_STDERR_TAIL:]

    async def call(self, message: dict[str, Any], host: HostHandler | None) -> dict[str, Any]:
        """Send one call and read its answer, serving the host requests the code makes meanwhile."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(msgpack.packb(message, use_bin_type=True, default=_plain))
        await stdin.drain()
        pending: list[Any] = []
        while True:
            if not pending:
                data = await stdout.read(_READ_SIZE)
                if not data:
                    raise EOFError
                pending.extend(self.decoder.feed(data))
                if self.decoder.failure is not None:
                    raise ValueError(self.decoder.failure)
                continue
            decoded = pending.pop(0)
            if isinstance(decoded, RejectedMessage) or not isinstance(decoded, dict):
                raise ValueError("the worker sent an answer that could not be read")
            request = decoded.get("host")
            if request is None:
                return decoded
            stdin.write(msgpack.packb(await _serve_host(host, request), use_bin_type=True, default=_plain))
            await stdin.drain()


async def _serve_host(host: HostHandler | None, request: Any) -> dict[str, Any]:
    """The answer to one host request; a failure of the request is the code's to handle, not the run's."""
    if host is None:
        return {"ok": False, "error": "noodl.records is not available here"}
    if not isinstance(request, list) or len(request) != 2 or not isinstance(request[1], list):
        return {"ok": False, "error": "bad host request"}
    try:
        return {"ok": True, "result": await host(str(request[0]), request[1])}
    except asyncio.CancelledError:
        raise
    except Exception as error:
        return {"ok": False, "error": getattr(error, "message", None) or str(error) or type(error).__name__}


def _plain(value: Any) -> Any:
    """A value msgpack does not know goes as its text (the nodes hand over plain data already)."""
    return str(value)


class PythonPool:
    """Warm workers for the Python nodes of one backend; ``call`` is safe from any number of runs."""

    def __init__(
        self,
        scratch: Path,
        *,
        size: int = 2,
        limits: PoolLimits | None = None,
        command: list[str] | None = None,
        import_paths: tuple[Path, ...] = (),
    ) -> None:
        """``import_paths``: folders a worker puts first on ``sys.path`` (the backend's own packages)."""
        self.scratch = scratch
        self.import_paths = import_paths
        self.generation = 0  # bumped by recycle(): workers of an older generation are not reused
        self.size = max(1, size)
        self.limits = limits or PoolLimits()
        self.command = command or worker_command()
        self._idle: list[_Worker] = []
        self._live = 0  # workers started and not yet gone (idle or busy)
        self._waiters: list[asyncio.Future[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.started = 0  # workers started since the pool was made
        self.replaced = 0  # workers killed because a call failed them

    async def call(
        self, message: dict[str, Any], *, wall_seconds: float | None = None, host: HostHandler | None = None
    ) -> CallResult:
        """Run one call; raises :class:`PythonLimitError` when it had to kill the worker.

        ``host`` serves what the code asks of the sidecar while it runs (``noodl.records``)."""
        ceiling = self.limits.wall_seconds
        limit = ceiling if wall_seconds is None else min(wall_seconds, ceiling)
        worker = await self._acquire()
        outcome = "kill"  # unless the call ends with an answer: a timeout, a death, a cancellation
        try:
            message = {**message, "cpu": self.limits.cpu_seconds}
            try:
                # A timeout scope rather than wait_for: no extra task per call (a tenth of the round trip).
                async with asyncio.timeout(max(limit, 0.001)):
                    answer = await worker.call(message, host)
            except TimeoutError:
                raise PythonLimitError(f"Python code exceeded its time limit ({limit:g} s)") from None
            except (EOFError, ConnectionError, ValueError):
                raise PythonLimitError(await self._death_reason(worker)) from None
            if answer.get("limit") == "memory":
                raise PythonLimitError(
                    f"Python code exceeded its memory limit ({self.limits.memory_bytes // _MIB} MiB)"
                )
            outcome = "keep" if self._still_fresh(worker, answer) else "retire"
            return CallResult(
                ok=bool(answer.get("ok")),
                result=answer.get("result"),
                effects=list(answer.get("effects") or []),
                logs=list(answer.get("logs") or []),
                error=answer.get("error"),
            )
        finally:
            self._release(worker, outcome)

    def _still_fresh(self, worker: _Worker, answer: dict[str, Any]) -> bool:
        worker.runs += 1
        rss = int(answer.get("rss") or 0)
        if worker.baseline_rss is None:
            worker.baseline_rss = rss
        if worker.runs >= self.limits.max_runs:
            log.info("python worker recycled", pid=worker.pid, runs=worker.runs)
            return False
        if rss - worker.baseline_rss > self.limits.max_growth_bytes:
            log.info("python worker recycled", pid=worker.pid, rss=rss, baseline=worker.baseline_rss)
            return False
        return True

    async def _death_reason(self, worker: _Worker) -> str:
        code: int | None = None
        with contextlib.suppress(TimeoutError):
            code = await asyncio.wait_for(worker.process.wait(), timeout=2.0)
        if code is not None and code < 0 and -code == getattr(signal, "SIGXCPU", None):
            return f"Python code exceeded its CPU time limit ({self.limits.cpu_seconds:g} s)"
        tail = worker.stderr_tail.decode("utf-8", "replace").strip().splitlines()
        detail = f": {tail[-1]}" if tail else ""
        return f"the Python worker stopped (exit status {code}){detail}"

    # ---- workers ----------------------------------------------------------------------------------------
    async def _acquire(self) -> _Worker:
        while True:
            if self._closed:
                raise PythonLimitError("the Python runtime is shut down")
            if self._idle:
                return self._idle.pop()
            if self._live < self.size:
                self._live += 1
                try:
                    return await self._start()
                except BaseException:
                    self._live -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _start(self) -> _Worker:
        (self.scratch / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                f"--memory-bytes={self.limits.memory_bytes}",
                *(f"--path={path}" for path in self.import_paths),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.scratch,
                env=worker_environment(self.scratch),
                # Out of the terminal's process group: a Ctrl-C stops the sidecar, which then closes its
                # workers; a worker whose sidecar died ends when its input closes.
                start_new_session=True,
            )
        except OSError as error:
            raise PythonLimitError(f"the Python worker could not start: {error}") from error
        worker = _Worker(process, self.generation)
        worker.stderr_task = asyncio.ensure_future(worker.drain_stderr())
        self.started += 1
        log.debug("python worker started", pid=process.pid)
        return worker

    def recycle(self) -> None:
        """Retire every worker (idle ones now, busy ones after their call): the next calls get fresh
        workers, which import the backend's packages anew."""
        self.generation += 1
        idle, self._idle = self._idle, []
        for worker in idle:
            self._live -= 1
            self._stop(worker, kill=False)
        self._wake()

    def _release(self, worker: _Worker, outcome: str) -> None:
        if worker.generation != self.generation and outcome == "keep":
            outcome = "retire"
        if outcome == "keep" and not self._closed and worker.process.returncode is None:
            self._idle.append(worker)
        else:
            if outcome == "kill":
                self.replaced += 1
            self._live -= 1
            # The successor starts with the next call that needs it: a start left running in the
            # background would hold up the loop's shutdown when the pool is never closed (`run`).
            self._stop(worker, kill=outcome == "kill")
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return

    def _stop(self, worker: _Worker, *, kill: bool) -> None:
        process = worker.process
        if process.returncode is None:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            elif process.stdin is not None:
                process.stdin.close()  # the worker ends at the end of its input
        task = asyncio.ensure_future(self._reap(worker))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _reap(worker: _Worker) -> None:
        try:
            await asyncio.wait_for(worker.process.wait(), timeout=5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            await worker.process.wait()
        if worker.stderr_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(worker.stderr_task, timeout=1.0)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Stop every worker (idle ones at once; busy ones when their call ends) and wait for them."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            self._live -= 1
            self._stop(worker, kill=False)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
