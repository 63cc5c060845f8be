"""The worker pool: user Python runs in other processes, within limits, without the sidecar's secrets."""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import os
import signal
import time
import types
from pathlib import Path

import pytest

from sidecar.python_runtime import CallResult, PoolLimits, PythonLimitError, PythonPool
from sidecar.python_runtime.pool import _ReadyQueue
from sidecar.python_runtime.worker_entry import WORKER_FILE
from tests.python_runtime.conftest import PLANTED_SECRET


async def run(
    pool: PythonPool, source: str, wall_seconds: float | None = None, **inputs: object
) -> CallResult:
    return await pool.call({"op": "function", "source": source, "inputs": inputs}, wall_seconds=wall_seconds)


async def evaluate(pool: PythonPool, expression: str, **inputs: object) -> object:
    return (await pool.call({"op": "expression", "source": expression, "inputs": inputs})).result


async def test_a_function_runs_in_another_process_and_reports_its_effects_in_order(pool: PythonPool) -> None:
    source = (
        "import os\n"
        "outputs['pid'] = os.getpid()\n"
        "outputs['sum'] = inputs['a'] + inputs['b']\n"
        "send_signal('done')\n"
    )
    result = await pool.call({"op": "function", "source": source, "inputs": {"a": 2, "b": 3}})

    assert result.ok
    assert result.effects[1:] == [["set", "sum", 5], ["signal", "done"]]
    assert result.effects[0][2] != os.getpid()


async def test_the_worker_environment_holds_no_secret_and_works_in_the_scratch_folder(
    pool: PythonPool, tmp_path: Path
) -> None:
    source = "import os\noutputs['env'] = dict(os.environ)\noutputs['cwd'] = os.getcwd()\n"
    result = await pool.call({"op": "function", "source": source, "inputs": {}})

    env, cwd = result.effects[0][2], result.effects[1][2]
    assert PLANTED_SECRET not in repr(env)
    assert "NOODL_ADMIN_TOKEN" not in env
    assert "OPENAI_API_KEY" not in env
    assert Path(cwd) == (tmp_path / "scratch").resolve()
    assert env["HOME"] == str(tmp_path / "scratch")


async def test_an_infinite_loop_hits_the_cpu_limit_and_the_pool_replaces_the_worker(pool: PythonPool) -> None:
    with pytest.raises(PythonLimitError, match="CPU time limit"):
        await run(pool, "while True:\n    pass\n")

    assert pool.replaced == 1
    assert await evaluate(pool, "6 * 7") == 42
    assert pool.started == 2


async def test_each_call_gets_its_whole_cpu_allowance_after_others_spent_theirs(pool: PythonPool) -> None:
    """The allowance (1 s here) is per call, though the worker reads its CPU time only now and then."""
    burn = (
        "import time\n"
        "end = time.process_time() + 0.6\n"
        "while time.process_time() < end:\n"
        "    pass\n"
        "outputs['pid'] = __import__('os').getpid()\n"
    )
    pids = [(await run(pool, burn)).effects[0][2] for _ in range(3)]  # 1.8 s of CPU in all

    assert len(set(pids)) == 1  # one worker spent them
    assert pool.replaced == 0


def test_the_worker_reads_its_cpu_time_only_when_the_limit_set_may_be_too_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = importlib.util.spec_from_file_location("noodl_python_worker_under_test", WORKER_FILE)
    assert spec is not None
    assert spec.loader is not None
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    limits: list[tuple[int, int]] = []
    fake_resource = types.SimpleNamespace(  # the test process's own limit stays as it is
        RLIMIT_CPU=0,
        RLIM_INFINITY=-1,
        getrlimit=lambda _which: (-1, -1),
        setrlimit=lambda _which, pair: limits.append(pair),
    )
    used = [10.2]
    reads: list[float] = []
    clock = [100.0]

    def read_cpu_seconds() -> float:
        reads.append(used[0])
        return used[0]

    monkeypatch.setattr(worker, "resource", fake_resource)
    monkeypatch.setattr(worker, "_cpu_seconds", read_cpu_seconds)
    monkeypatch.setattr(worker.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(worker.os, "cpu_count", lambda: 2)
    allowance = worker._CpuAllowance(1.0)

    allowance.renew()  # 10.2 s used: calls may run to 12 s (whole seconds, at least 1 s ahead)
    for _ in range(100):  # quick calls: 0.3 s of CPU could not have been used in the time passed
        clock[0] += 0.001
        allowance.renew()
    clock[0] += 0.4  # now up to 1 s may have been used (two processors): read again
    used[0] = 10.5
    allowance.renew()
    clock[0] += 0.001
    used[0] = 11.3
    allowance.renew()  # the bound still holds (10.5 + 0.002 + 1 <= 12): the limit stays, unread
    clock[0] += 0.5
    allowance.renew()  # 10.5 + 1.0 + 1 > 12: read, 11.3 used, calls may run to 13 s

    assert reads == [10.2, 10.5, 11.3]
    assert limits == [(12, -1), (13, -1)]


def test_a_callback_queued_among_cancelled_ones_counts_as_the_loops_work() -> None:
    """A call's answer is waited for on the loop's thread only while the loop has nothing to run; the
    cancelled handles runs leave queued are looked through once, not at every wait."""
    loop = asyncio.new_event_loop()
    try:

        def handle(cancelled: bool) -> asyncio.Handle:
            made = asyncio.Handle(print, (), loop)
            if cancelled:
                made.cancel()
            return made

        queue = _ReadyQueue()
        ready = collections.deque([handle(True), handle(True)])
        idle = [queue.has_work(ready)]
        ready.append(handle(True))
        idle.append(queue.has_work(ready))
        ready.append(handle(False))
        behind_cancelled = queue.has_work(ready)
        ready.clear()  # the loop ran them
        ready.extend([handle(False), handle(True)])
        after_a_turn = queue.has_work(ready)
    finally:
        loop.close()

    assert idle == [False, False]
    assert behind_cancelled
    assert after_a_turn


async def test_an_answer_that_cannot_be_sent_fails_and_the_next_answer_is_whole(pool: PythonPool) -> None:
    unsendable = (
        "class NoText:\n"
        "    def __str__(self):\n"
        "        raise ValueError('no text')\n"
        "outputs['fine'] = 'x' * 1000\n"
        "outputs['bad'] = NoText()\n"
    )

    failed = await run(pool, unsendable)
    after = await run(pool, "outputs['n'] = inputs['n']\n", n=7)

    assert not failed.ok
    assert failed.error is not None
    assert "could not be sent" in failed.error
    assert after.ok
    assert after.effects == [["set", "n", 7]]  # nothing of the failed answer was left in the packer


async def test_a_sleeping_call_hits_the_wall_time_limit_and_the_worker_is_killed(pool: PythonPool) -> None:
    started = time.monotonic()
    with pytest.raises(PythonLimitError, match="time limit"):
        await run(pool, "import time\ntime.sleep(60)", wall_seconds=0.5)

    assert time.monotonic() - started < 5
    assert pool.replaced == 1
    assert await evaluate(pool, "1 + 1") == 2


async def test_a_memory_bomb_hits_the_memory_limit_and_the_next_call_gets_a_fresh_worker(
    pool: PythonPool,
) -> None:
    with pytest.raises(PythonLimitError, match="memory limit"):
        await run(pool, "hog = []\nwhile True:\n    hog.append(bytearray(10 * 1024 * 1024))\n")

    result = await run(pool, "outputs['ok'] = len(bytearray(1024))")
    assert result.effects == [["set", "ok", 1024]]
    assert pool.replaced == 1


async def test_a_worker_that_exits_is_reported_and_replaced(pool: PythonPool) -> None:
    with pytest.raises(PythonLimitError, match="exit status 7"):
        await run(pool, "import os\nos._exit(7)\n")

    assert await evaluate(pool, "'still here'") == "still here"


async def test_a_cancelled_call_kills_its_worker(pool: PythonPool) -> None:
    task = asyncio.ensure_future(run(pool, "import time\ntime.sleep(60)"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert pool.replaced == 1
    assert await evaluate(pool, "3") == 3


async def test_an_exception_is_answered_with_a_traceback_of_the_user_code_only(pool: PythonPool) -> None:
    source = "def inner():\n    raise ValueError('bad value')\n\ninner()\n"
    result = await pool.call({"op": "function", "source": source, "inputs": {}})

    assert not result.ok
    assert result.error is not None
    assert result.error.endswith("ValueError: bad value")
    assert 'File "<python node>", line 2, in inner' in result.error
    assert "worker.py" not in result.error
    assert pool.replaced == 0


async def test_print_and_logging_lines_are_captured_not_written(pool: PythonPool) -> None:
    source = (
        "import logging, sys\n"
        "print('one', 1)\n"
        "logging.getLogger('x').warning('two')\n"
        "print('three', file=sys.stderr)\n"
    )
    result = await run(pool, source)

    assert result.logs == [
        {"level": "info", "message": "one 1"},
        {"level": "warning", "message": "two"},
        {"level": "error", "message": "three"},
    ]


async def test_async_code_runs_with_top_level_await(pool: PythonPool) -> None:
    source = (
        "import asyncio\n"
        "async def double(x):\n"
        "    await asyncio.sleep(0.01)\n"
        "    return 2 * x\n"
        "outputs['value'] = await double(inputs['x'])\n"
    )
    result = await pool.call({"op": "function", "source": source, "inputs": {"x": 21}})

    assert result.effects == [["set", "value", 42]]


async def test_concurrent_calls_do_not_see_each_others_globals(pool: PythonPool) -> None:
    writer = "import time\nshared = inputs['mine']\ntime.sleep(0.3)\noutputs['saw'] = shared\n"
    reader = "outputs['saw'] = globals().get('shared', 'nothing')\n"

    results = await asyncio.gather(
        pool.call({"op": "function", "source": writer, "inputs": {"mine": "a"}}),
        pool.call({"op": "function", "source": writer, "inputs": {"mine": "b"}}),
    )
    after = await pool.call({"op": "function", "source": reader, "inputs": {}})

    assert [r.effects for r in results] == [[["set", "saw", "a"]], [["set", "saw", "b"]]]
    assert after.effects == [["set", "saw", "nothing"]]


async def test_workers_are_recycled_after_their_run_budget(tmp_path: Path) -> None:
    recycling = PythonPool(tmp_path, size=1, limits=PoolLimits(max_runs=2))
    try:
        pids = [
            (await run(recycling, "import os\noutputs['p'] = os.getpid()")).effects[0][2] for _ in range(4)
        ]
    finally:
        await recycling.close()

    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert recycling.replaced == 0  # retired, not killed


async def test_more_calls_than_workers_queue_and_all_answer(pool: PythonPool) -> None:
    results = await asyncio.gather(
        *(pool.call({"op": "expression", "source": "n * n", "inputs": {"n": n}}) for n in range(20))
    )

    assert [r.result for r in results] == [n * n for n in range(20)]
    assert pool.started == 2


async def test_a_worker_whose_memory_grew_is_retired_after_the_call(tmp_path: Path) -> None:
    growing = PythonPool(tmp_path, size=1, limits=PoolLimits(max_growth_bytes=20 * 1024 * 1024))
    leak = "import builtins, os\nbuiltins.kept = bytearray(60 * 1024 * 1024)\noutputs['p'] = os.getpid()\n"
    pid = "import os\noutputs['p'] = os.getpid()\n"
    try:
        first = (await run(growing, pid)).effects[0][2]
        leaked = (await run(growing, leak)).effects[0][2]
        after = (await run(growing, pid)).effects[0][2]
    finally:
        await growing.close()

    assert first == leaked != after
    assert growing.replaced == 0


async def test_writes_to_the_workers_stdout_descriptor_do_not_reach_the_protocol(pool: PythonPool) -> None:
    source = "import os\nos.write(1, b'not msgpack at all')\noutputs['after'] = 1\n"

    result = await run(pool, source)

    assert result.effects == [["set", "after", 1]]
    assert pool.replaced == 0


async def test_values_with_keys_that_are_not_text_arrive_with_text_keys(pool: PythonPool) -> None:
    result = await run(pool, "outputs['m'] = {1: 'one', (2, 3): [{None: True}]}\n")

    assert result.effects == [["set", "m", {"1": "one", "(2, 3)": [{"None": True}]}]]
    assert await evaluate(pool, "{4: 'four'}") == {"4": "four"}
    assert pool.replaced == 0


async def test_a_worker_that_dies_while_idle_is_dropped_and_the_next_call_answers(pool: PythonPool) -> None:
    pid = (await run(pool, "import os\noutputs['p'] = os.getpid()")).effects[0][2]
    os.kill(pid, signal.SIGKILL)  # killed from outside between calls (the OOM killer, a user)
    for _ in range(100):  # the loop sees the end of its output and drops it from the pool
        if pool.started and not pool._idle:
            break
        await asyncio.sleep(0.02)

    after = await run(pool, "import os\noutputs['p'] = os.getpid()")

    assert after.ok
    assert after.effects[0][2] != pid
    assert pool.replaced == 0  # no call failed it


async def test_a_call_in_flight_holds_no_task_of_its_own(pool: PythonPool) -> None:
    await evaluate(pool, "1")  # a warm worker
    before = len(asyncio.all_tasks())

    future = pool.submit({"op": "function", "source": "import time\ntime.sleep(0.2)", "inputs": {}})
    await asyncio.sleep(0.05)
    in_flight = len(asyncio.all_tasks())
    result = await future

    assert result.ok
    assert in_flight == before  # the answer settles the future from the loop's reader callback


async def test_inputs_and_outputs_larger_than_a_pipe_buffer_go_through_whole(pool: PythonPool) -> None:
    big = "x" * (3 * 1024 * 1024)  # a pipe holds 64 KiB: both ways need many writes and reads

    result = await run(pool, "outputs['n'] = len(inputs['big'])\noutputs['echo'] = inputs['big']", big=big)

    assert result.effects == [["set", "n", len(big)], ["set", "echo", big]]


async def test_a_queued_call_that_is_cancelled_never_runs_and_kills_no_worker(tmp_path: Path) -> None:
    single = PythonPool(tmp_path, size=1)
    marker = tmp_path / "ran"
    try:
        busy = single.submit({"op": "function", "source": "import time\ntime.sleep(0.3)", "inputs": {}})
        queued = single.submit(
            {"op": "function", "source": f"open({str(marker)!r}, 'w').close()", "inputs": {}}
        )
        await asyncio.sleep(0.05)
        queued.cancel()
        assert (await busy).ok
        assert (await single.call({"op": "expression", "source": "2", "inputs": {}})).result == 2
    finally:
        await single.close()

    assert not marker.exists()
    assert single.replaced == 0


async def test_a_worker_starts_without_loading_asyncio_until_code_awaits(pool: PythonPool) -> None:
    probe = "import sys\noutputs['loaded'] = 'asyncio' in sys.modules"

    plain = await run(pool, probe)
    await run(pool, "import asyncio\nawait asyncio.sleep(0)")
    awaited = await run(pool, probe)

    # Each module a worker skips is start time and idle memory (the worker is a separate process).
    assert plain.effects == [["set", "loaded", False]]
    assert awaited.effects == [["set", "loaded", True]]


async def test_the_ended_callback_hears_of_an_answer_before_the_done_callbacks(pool: PythonPool) -> None:
    order: list[str] = []
    ended: list[asyncio.Future[CallResult]] = []

    def on_end(future: asyncio.Future[CallResult]) -> None:
        order.append("ended")
        ended.append(future)

    future = pool.submit({"op": "expression", "source": "6 * 7", "inputs": {}}, ended=on_end)
    future.add_done_callback(lambda _: order.append("done callback"))
    result = await future

    assert result.result == 42
    assert order == ["ended", "done callback"]  # told in the turn the answer was read, a turn earlier
    assert ended == [future]


class Unsendable:
    """A value that cannot be packed, not even as its text."""

    def __str__(self) -> str:
        raise TypeError("no text")


async def test_the_ended_callback_hears_of_a_limit_and_of_a_call_that_could_not_be_sent(
    pool: PythonPool,
) -> None:
    errors: list[BaseException | None] = []
    done = asyncio.Event()

    def on_end(future: asyncio.Future[CallResult]) -> None:
        errors.append(future.exception())
        if len(errors) == 2:
            done.set()

    pool.submit({"op": "function", "source": "import time\ntime.sleep(5)\n"}, wall_seconds=0.3, ended=on_end)
    pool.submit({"op": "function", "source": "", "inputs": {"x": Unsendable()}}, ended=on_end)
    await asyncio.wait_for(done.wait(), 10)

    assert any(isinstance(error, PythonLimitError) and "time limit" in error.message for error in errors)
    assert any(error is not None and not isinstance(error, PythonLimitError) for error in errors)


async def test_a_cancelled_call_is_not_reported_to_its_ended_callback(pool: PythonPool) -> None:
    told: list[object] = []
    future = pool.submit({"op": "function", "source": "import time\ntime.sleep(5)\n"}, ended=told.append)
    await asyncio.sleep(0.2)
    future.cancel()
    await asyncio.sleep(0.2)

    assert told == []


async def test_a_forked_child_cannot_answer_or_read_the_next_calls(tmp_path: Path) -> None:
    """Red team: a child of ``os.fork()`` ran on into the worker's loop on the same pipes, so the next
    call of another run was read by it or answered with the forked call's outputs."""
    pool = PythonPool(tmp_path / "scratch", size=1, limits=PoolLimits(cpu_seconds=2, wall_seconds=20))
    try:
        forked = await run(pool, "import os\noutputs['pid'] = os.fork()\n")
        assert forked.ok
        assert forked.effects[0][2] > 0  # the parent's answer
        for n in range(5):
            answer = await run(pool, "outputs['n'] = inputs['n']\n", n=n)
            assert answer.effects == [["set", "n", n]]
    finally:
        await pool.close()
