"""A pool of warm Python worker processes, driven from the event loop without blocking it.

Each worker is ``noodl-sidecar python-worker`` (``python -m sidecar python-worker`` from source),
started lazily on the first call that finds no idle worker, up to ``size``; calls beyond that wait
their turn in order. The sidecar's ends of a worker's stdin and stdout are non-blocking pipes watched
by the event loop: a call is one msgpack map written at once, and the loop's reader callback decodes
the answer and settles the call's future, with no task or stream transport per call. Before its
answer the code may send host requests (``{"host": [op, args]}``, from ``noodl.records``); the
call's ``host`` handler answers each on the event loop, and the worker goes on.

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
import collections
import contextlib
import itertools
import os
import select
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import structlog

log = structlog.get_logger()

_MIB = 1024 * 1024
_READ_SIZE = 1 << 16
# An answer larger than this is not read: the worker is killed and its call fails (as a stream the
# sidecar cannot decode). The same bound as a message of the editor's protocol.
_MAX_ANSWER_BYTES = 64 * _MIB
_STDERR_TAIL = 2000
# How long a caller may wait on the loop's thread for a call's answer (``PythonPool.wait_briefly``) while
# the loop has nothing else to do; the JavaScript engine waits as long for a script on its thread.
QUICK_WAIT_SECONDS = 0.002
_MOST_QUEUED_LOOKED_AT = 1024
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
    max_runs: int = 50_000
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
# Told of a call's end in the loop turn that ended it, with the call's (done) future: the caller can
# go on at once instead of a turn later through the future's done callbacks.
CallEnded = Callable[[asyncio.Future[CallResult]], None]


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


class _CallFuture(asyncio.Future[CallResult]):
    """A call's future; cancelling it (the run ended) tells the pool at once, without a done callback
    (a callback would cost every call a turn of the loop's ready queue)."""

    def __init__(self, pool: PythonPool, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self.pool = pool
        self.job: _Job | None = None

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        job, self.job = self.job, None
        if job is not None:
            self.pool._abandoned(job)
        return True


class _Job:
    """One call: its packed message and future, and once it runs, its worker and wall-time timer."""

    __slots__ = ("data", "deadline", "ended", "future", "host", "limit", "worker")

    def __init__(
        self,
        data: bytes,
        future: _CallFuture,
        host: HostHandler | None,
        limit: float,
        ended: CallEnded | None = None,
    ) -> None:
        self.data = data
        self.future = future
        self.host = host
        self.limit = limit
        self.ended = ended
        self.deadline = 0.0  # the loop's time by which it must have answered, set when it starts
        self.worker: _Worker | None = None


class _Worker:
    """One worker process and the sidecar's ends of its pipes, read by a callback of the event loop.

    The pipes are plain non-blocking descriptors rather than stream transports: a call is one
    ``os.write``, and the reader callback decodes the answer and settles the call's future itself, with
    no task per call (the stream reader's wake-ups cost more than the worker's whole round trip). Output
    larger than the pipe's buffer waits for a writer callback.
    """

    def __init__(
        self, pool: PythonPool, process: asyncio.subprocess.Process, to_worker: int, from_worker: int
    ) -> None:
        self.pool = pool
        self.process = process
        self.generation = pool.generation
        self.to_worker = to_worker
        self.from_worker = from_worker
        # The C unpacker straight on the bytes read: the worker only ever sends maps the pool made it
        # send; anything else (bad bytes, too big) ends the worker like a closed pipe does.
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=_MAX_ANSWER_BYTES)
        self.watchdog: asyncio.TimerHandle | None = None  # fires at (or before) the job's deadline
        self.job: _Job | None = None  # the call it runs now
        self.runs = 0
        self.baseline_rss: int | None = None
        self.stderr_tail = b""
        self.stderr_task: asyncio.Task[None] | None = None
        self.detached = False  # its pipes are closed and the loop no longer watches them
        self.removed = False  # out of the pool's count of live workers
        self._unsent = bytearray()
        self._loop = asyncio.get_running_loop()
        # This worker's output and the loop's own selector, for waiting on the loop's thread; made on
        # the first wait, False where the loop has no selector to watch (see ``wait_for``).
        self._poller: Any = None
        os.set_blocking(to_worker, False)
        os.set_blocking(from_worker, False)
        self._loop.add_reader(from_worker, self._readable)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def drain_stderr(self) -> None:
        """Keep the end of what the worker wrote to stderr, for the report of a crash."""
        stream = self.process.stderr
        assert stream is not None
        while data := await stream.read(_READ_SIZE):
            self.stderr_tail = (self.stderr_tail + data)[-_STDERR_TAIL:]

    def begin(self, job: _Job) -> None:
        """Send ``job`` to this idle worker; its watchdog fires by the job's deadline."""
        job.worker = self
        self.job = job
        job.deadline = self._loop.time() + job.limit
        # One timer per worker, re-armed only when a job's deadline comes before it: most calls share
        # the pool's ceiling, so a call costs no timer of its own (a timer per call was a tenth of it).
        watchdog = self.watchdog
        if watchdog is None or watchdog.when() > job.deadline:
            if watchdog is not None:
                watchdog.cancel()
            self.watchdog = self._loop.call_at(job.deadline, self._watch)
        self.send(job.data)

    def _watch(self) -> None:
        self.watchdog = None
        job = self.job
        if job is None or self.detached:
            return
        if self._loop.time() >= job.deadline:
            self.pool._timed_out(self, job)
        else:
            self.watchdog = self._loop.call_at(job.deadline, self._watch)

    def send(self, data: bytes) -> None:
        if self.detached:
            return
        if self._unsent:
            self._unsent += data
            return
        try:
            written = os.write(self.to_worker, data)
        except BlockingIOError:
            written = 0
        except OSError:  # the worker's end is closed: it died, and the reader sees the end of its output
            return
        if written < len(data):
            self._unsent += data[written:]
            self._loop.add_writer(self.to_worker, self._writable)

    def wait_for(self, job: _Job, seconds: float) -> None:
        """Wait on this thread, up to ``seconds``, for ``job``'s answer while the loop has nothing else to
        do, and handle what comes as the loop's reader callback would. The wait ends at once when the
        loop has callbacks ready or a timer due, when anything else the loop watches is ready (its
        selector's own descriptor is watched too: a request, another worker's answer, a thread's wake-up),
        and when the call asks the sidecar for records (served by a task)."""
        loop = self._loop
        ready = getattr(loop, "_ready", None)
        poller = self._poller if self._poller is not None else self._make_poller()
        if ready is None or not poller or self.pool._ready.has_work(ready):
            return
        deadline = loop.time() + seconds
        timers = getattr(loop, "_scheduled", None)
        if timers:
            deadline = min(deadline, timers[0].when())
        while self.job is job and not self.detached:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            events = poller.poll(remaining * 1000)
            if not any(fd == self.from_worker for fd, _event in events):
                return  # the time is up, or the loop has other work
            try:
                self._readable()
            except Exception as error:  # as the loop reports a callback's failure
                loop.call_exception_handler({"message": "a Python call's answer failed", "exception": error})
                return
            if self.pool._ready.has_work(ready):
                return  # handling it handed work to the loop (a host request's task)

    def _make_poller(self) -> Any:
        selector = getattr(self._loop, "_selector", None)
        fileno = getattr(selector, "fileno", None)
        if fileno is None or not hasattr(select, "poll"):  # a loop without a selector (Windows' proactor)
            self._poller = False
            return False
        poller = select.poll()
        poller.register(self.from_worker, select.POLLIN)
        poller.register(fileno(), select.POLLIN)
        self._poller = poller
        return poller

    def _writable(self) -> None:
        try:
            written = os.write(self.to_worker, self._unsent)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._unsent)
        del self._unsent[:written]
        if not self._unsent:
            self._loop.remove_writer(self.to_worker)

    def _readable(self) -> None:
        try:
            data = os.read(self.from_worker, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.pool._died(self)
            return
        try:
            self.unpacker.feed(data)
            for decoded in self.unpacker:
                job = self.job
                if not isinstance(decoded, dict) or job is None:
                    self.pool._died(self)  # not an answer, or an answer nobody asked for
                    return
                request = decoded.get("host")
                if request is None:
                    self.pool._answered(self, job, decoded)
                else:
                    self.pool._spawn(self._serve(job, request))
        except (ValueError, msgpack.UnpackException):  # bytes that are not msgpack, or too many of them
            self.pool._died(self)

    async def _serve(self, job: _Job, request: Any) -> None:
        """Answer a host request of ``job``, unless the job ended (its worker killed) meanwhile."""
        answer = await _serve_host(job.host, request)
        if self.job is job:
            self.send(msgpack.packb(answer, use_bin_type=True, default=_plain))

    def detach(self) -> None:
        """Stop watching the pipes and close them; a worker that is alive sees the end of its input."""
        if self.detached:
            return
        self.detached = True
        self._poller = False
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        self._loop.remove_reader(self.from_worker)
        if self._unsent:
            self._loop.remove_writer(self.to_worker)
            self._unsent.clear()
        os.close(self.to_worker)
        os.close(self.from_worker)


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


class _ReadyQueue:
    """Tells whether the loop has callbacks to run. A cancelled one stays queued until the loop's next
    turn (a run cancels its frame's handle when it runs the frame at once), and runs that never yield
    leave one each, so the queue is looked through, but only past the part already seen cancelled:
    the loop takes handles from the left and adds them on the right, and a cancelled one stays so."""

    __slots__ = ("_cancelled", "_first")

    def __init__(self) -> None:
        self._first: asyncio.Handle | None = None  # the leftmost handle at the last look
        self._cancelled = 0  # how many from the left were cancelled then

    def has_work(self, ready: collections.deque[asyncio.Handle]) -> bool:
        queued = len(ready)
        if queued > _MOST_QUEUED_LOOKED_AT:
            return True
        seen = self._cancelled if queued and ready[0] is self._first and queued >= self._cancelled else 0
        for handle in itertools.islice(reversed(ready), queued - seen):  # the ones added since
            if not handle.cancelled():
                return True
        self._first = ready[0] if queued else None
        self._cancelled = queued
        return False


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
        self._live = 0  # workers started or starting, and not yet gone (idle or busy)
        self._starting = 0
        self._queue: collections.deque[_Job] = collections.deque()  # calls waiting for a worker
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = _ReadyQueue()  # whether the loop has work (``_Worker.wait_for``)
        self._closed = False
        self.started = 0  # workers started since the pool was made
        # One packer for every call (packb makes one a call); it forgets a message it failed to pack.
        self._packer = msgpack.Packer(use_bin_type=True, default=_plain)
        self.replaced = 0  # workers killed because a call failed them

    async def call(
        self, message: dict[str, Any], *, wall_seconds: float | None = None, host: HostHandler | None = None
    ) -> CallResult:
        """Run one call; raises :class:`PythonLimitError` when it had to kill the worker.

        ``host`` serves what the code asks of the sidecar while it runs (``noodl.records``)."""
        return await self.submit(message, wall_seconds=wall_seconds, host=host)

    def submit(
        self,
        message: dict[str, Any],
        *,
        wall_seconds: float | None = None,
        host: HostHandler | None = None,
        ended: CallEnded | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.Future[CallResult]:
        """``call`` as a future: the message goes to an idle worker at once (else it waits its turn),
        and the loop's reader callback settles the future. Cancelling the future kills the worker of a
        call that runs, and drops a call that still waits.

        ``ended``, when given, is called with the future once it has a result or an error (not when
        it is cancelled): in the same loop turn as the answer is read, after the worker is back in
        the pool; a call that fails before it is sent is reported on the loop's next turn. ``loop``:
        the running loop, when the caller has it at hand (looking it up costs a system call)."""
        if loop is None:
            loop = asyncio.get_running_loop()
        future = _CallFuture(self, loop)
        if self._closed:
            future.set_exception(PythonLimitError("the Python runtime is shut down"))
            if ended is not None:
                loop.call_soon(ended, future)
            return future
        ceiling = self.limits.wall_seconds
        limit = ceiling if wall_seconds is None else min(wall_seconds, ceiling)
        try:
            data = self._packer.pack(message)
        except (TypeError, ValueError, OverflowError) as error:
            future.set_exception(error)
            if ended is not None:
                loop.call_soon(ended, future)
            return future
        job = _Job(data, future, host, max(limit, 0.001), ended)
        future.job = job
        self._queue.append(job)
        self._dispatch()
        return future

    # ---- calls ------------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Give waiting calls to idle workers, and start workers (up to ``size``) for the others."""
        queue = self._queue
        while queue and self._idle:
            self._idle.pop().begin(queue.popleft())  # the most recent idle worker: its caches are warm
        while len(queue) > self._starting and self._live < self.size and not self._closed:
            self._live += 1
            self._starting += 1
            self._spawn(self._add_worker())

    def _abandoned(self, job: _Job) -> None:
        """The call's future was cancelled."""
        worker = job.worker
        if worker is None:  # still waiting for a worker
            with contextlib.suppress(ValueError):
                self._queue.remove(job)
        elif worker.job is job:  # running: the code may be anywhere, only killing its worker stops it
            self._end(worker, job, "kill")

    def _answered(self, worker: _Worker, job: _Job, answer: dict[str, Any]) -> None:
        if answer.get("limit") == "memory":
            memory = self.limits.memory_bytes // _MIB
            self._fail(job, PythonLimitError(f"Python code exceeded its memory limit ({memory} MiB)"))
            self._end(worker, job, "kill")
            self._tell(job)
            return
        outcome = "keep" if self._still_fresh(worker, answer) else "retire"
        if not job.future.done():
            job.future.set_result(
                CallResult(
                    ok=bool(answer.get("ok")),
                    result=answer.get("result"),
                    effects=answer.get("effects") or [],
                    logs=answer.get("logs") or [],
                    error=answer.get("error"),
                )
            )
        self._end(worker, job, outcome)
        self._tell(job)

    def _timed_out(self, worker: _Worker, job: _Job) -> None:
        if worker.job is job:
            self._fail(job, PythonLimitError(f"Python code exceeded its time limit ({job.limit:g} s)"))
            self._end(worker, job, "kill")
            self._tell(job)

    def _died(self, worker: _Worker) -> None:
        """The worker's output ended or could not be read; a call it ran fails with the reason."""
        worker.detach()
        job = worker.job
        if job is None:  # died while idle: out of the pool; a later call starts a fresh one
            if worker in self._idle:
                self._idle.remove(worker)
            self._remove(worker, kill=True)
            self._dispatch()
            return
        self._spawn(self._report_death(worker, job))

    async def _report_death(self, worker: _Worker, job: _Job) -> None:
        reason = await self._death_reason(worker)
        if worker.job is job:  # not cancelled meanwhile
            self._fail(job, PythonLimitError(reason))
            self._end(worker, job, "kill")
            self._tell(job)

    @staticmethod
    def wait_briefly(future: asyncio.Future[Any], seconds: float = QUICK_WAIT_SECONDS) -> None:
        """Wait on the loop's thread, up to ``seconds``, for the answer to ``future``'s call (from
        ``submit``) while the loop has nothing else to do. An answer that comes is handled now, as the
        loop's reader callback would handle it (the call's ``ended`` callback runs before this
        returns), sparing the caller the loop's turns; otherwise the call goes on as before."""
        job = future.job if isinstance(future, _CallFuture) else None
        worker = job.worker if job is not None else None
        if job is not None and worker is not None:  # it runs (not waiting for a worker, not ended)
            worker.wait_for(job, seconds)

    @staticmethod
    def _fail(job: _Job, error: BaseException) -> None:
        if not job.future.done():
            job.future.set_exception(error)

    @staticmethod
    def _tell(job: _Job) -> None:
        """The call is over: hand its future to its ``ended`` callback (once; never for a cancelled
        call), and unlink the job from its future and its host handler. The future and the job refer
        to each other, and the handler and the callback to the caller's run: left linked, every ended
        call left that whole run for the cycle collector instead of being freed at once (~30 objects a
        call, collected in pauses of tens of milliseconds)."""
        job.future.job = None
        job.host = None
        ended, job.ended = job.ended, None
        if ended is None or job.future.cancelled():
            return
        try:
            ended(job.future)
        except Exception:  # the caller's failure: the pool's state is already consistent
            log.exception("a Python call's ended callback failed")

    def _end(self, worker: _Worker, job: _Job, outcome: str) -> None:
        """The call ended: ``keep`` its worker for the next call, ``retire`` it, or ``kill`` it."""
        worker.job = None
        if worker.generation != self.generation and outcome == "keep":
            outcome = "retire"
        alive = not worker.detached and worker.process.returncode is None
        if outcome == "keep" and alive and not self._closed:
            self._idle.append(worker)
        else:
            if outcome == "kill":
                self.replaced += 1
            # The successor starts with the next call that needs it: a start left running in the
            # background would hold up the loop's shutdown when the pool is never closed (`run`).
            self._remove(worker, kill=outcome == "kill")
        self._dispatch()

    def _still_fresh(self, worker: _Worker, answer: dict[str, Any]) -> bool:
        worker.runs += 1
        if worker.runs >= self.limits.max_runs:
            log.info("python worker recycled", pid=worker.pid, runs=worker.runs)
            return False
        rss = answer.get("rss")  # not with every answer (the worker says when)
        if not isinstance(rss, int):
            return True
        if worker.baseline_rss is None:
            worker.baseline_rss = rss
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
    async def _add_worker(self) -> None:
        """Start a worker for the calls that wait; a failed start fails the call that waited longest."""
        try:
            worker = await self._start()
        except asyncio.CancelledError:
            self._live -= 1
            self._starting -= 1
            raise
        except Exception as error:
            self._live -= 1
            self._starting -= 1
            failed = self._queue.popleft() if self._queue else None
            if failed is not None:
                self._fail(failed, error)
            self._dispatch()
            if failed is not None:
                self._tell(failed)
            return
        self._starting -= 1
        if self._closed:
            self._remove(worker, kill=False)
            return
        self._idle.append(worker)
        self._dispatch()

    async def _start(self) -> _Worker:
        (self.scratch / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)
        child_input, to_worker = os.pipe()
        from_worker, child_output = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                f"--memory-bytes={self.limits.memory_bytes}",
                f"--cpu-seconds={self.limits.cpu_seconds}",
                *(f"--path={path}" for path in self.import_paths),
                stdin=child_input,
                stdout=child_output,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.scratch,
                env=worker_environment(self.scratch),
                # Out of the terminal's process group: a Ctrl-C stops the sidecar, which then closes its
                # workers; a worker whose sidecar died ends when its input closes.
                start_new_session=True,
            )
        except BaseException as error:
            os.close(to_worker)
            os.close(from_worker)
            if isinstance(error, OSError):
                raise PythonLimitError(f"the Python worker could not start: {error}") from error
            raise
        finally:
            os.close(child_input)
            os.close(child_output)
        worker = _Worker(self, process, to_worker, from_worker)
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
            self._remove(worker, kill=False)
        self._dispatch()

    def _remove(self, worker: _Worker, *, kill: bool) -> None:
        """Out of the pool: pipes closed (a live worker ends at the end of its input), or killed."""
        worker.detach()
        if worker.removed:
            return
        worker.removed = True
        self._live -= 1
        if kill and worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        self._spawn(self._reap(worker))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
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
            self._remove(worker, kill=False)
        waiting, self._queue = list(self._queue), collections.deque()
        for job in waiting:
            self._fail(job, PythonLimitError("the Python runtime is shut down"))
            self._tell(job)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
