"""The recorder in a real run: steps keyed by canvas node ids, in order, with data, timings and errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sidecar.events import EventBus
from sidecar.history import ExecutionHistory, HistoryConfig, HistoryRecorder, RunTrigger, db_write
from sidecar.history.recorder import RunRecorder
from sidecar.history.rows import WriteBatch
from sidecar.history.writer import HistoryWriter
from sidecar.runtime import Recorder, Runtime, make_request
from tests.history.graphs import condition_then_function


async def run_recorded(
    history: ExecutionHistory,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    script: str | None = None,
    trigger: RunTrigger | None = None,
) -> dict[str, Any]:
    """Run the Condition → Function graph with history on; return the stored ExecutionWithSteps."""
    export = condition_then_function() if script is None else condition_then_function(script)
    runtime = Runtime.from_export(export, timeout_seconds=0.2)
    recorder = history.recorder_for(trigger, node_names={"cond-7": "Is flag set?"})
    assert recorder is not None
    checked: Recorder = recorder  # structural fit with the runtime's hook Protocol
    await runtime.run("greet", make_request(body, headers), recorder=checked)
    assert history.writer is not None
    await history.writer.flush()
    assert recorder.execution_id is not None
    stored = await history.get_execution(recorder.execution_id)
    assert stored is not None
    return stored


def _file_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("executions.sqlite"))


async def database_bytes(data_dir: Path, url: str | None) -> bytes:
    """Every byte of the history database, its WAL and shared-memory files included; on PostgreSQL
    (``url``), every row of the history's tables as text."""
    if url is None:
        return await asyncio.to_thread(_file_bytes, data_dir)
    connection = await asyncpg.connect(url)
    try:
        rows = [
            row[0]
            for table in ("workflow_executions", "execution_steps", "execution_search")
            for row in await connection.fetch(f"SELECT t::text FROM {table} AS t")
        ]
    finally:
        await connection.close()
    return "\n".join(rows).encode()


def request_received(history: ExecutionHistory) -> RunRecorder:
    """A recorder whose run has started and whose Request node has taken the (empty) request."""
    recorder = history.recorder_for()
    assert recorder is not None
    recorder.run_started("r", "f", {"headers": {}, "body": "{}"})
    recorder.node_started("r", "req", "noodl.cloud.request", {"headers": {}, "body": "{}"})
    recorder.node_finished("r", "req", "noodl.cloud.request", {"receive": True})
    return recorder


async def test_steps_carry_canvas_node_ids_in_execution_order_with_data(history: ExecutionHistory) -> None:
    stored = await run_recorded(history, {"flag": True, "name": "Ada"})

    assert stored["status"] == "success"
    assert stored["workflowId"] == stored["workflowName"] == "greet"
    steps = stored["steps"]
    assert [(s["stepIndex"], s["nodeId"]) for s in steps] == [
        (0, "req-1"),
        (1, "cond-7"),
        (2, "fn-3"),
        (3, "resp-ok"),
    ]
    request, condition, function, response = steps
    assert request["inputData"]["body"] == {"flag": True, "name": "Ada"}
    assert request["outputData"] == {"auth": False, "pm-flag": True, "pm-name": "Ada", "receive": True}
    assert condition["inputData"] == {"condition": True, "eval": True}
    assert condition["outputData"] == {"result": True, "isfalse": False, "ontrue": True}
    assert condition["nodeName"] == "Is flag set?"
    assert function["inputData"] == {"in-name": "Ada", "run": True}
    assert function["outputData"] == {"out-greeting": "Hello Ada", "out-Done": True}
    assert response["inputData"] == {"pm-greeting": "Hello Ada", "send": True}
    for s in stored["steps"]:
        assert s["status"] == "success"
        assert s["startedAt"] <= s["completedAt"]
        assert s["durationMs"] >= 0


async def test_nodes_on_the_untaken_branch_do_not_look_run(history: ExecutionHistory) -> None:
    stored = await run_recorded(history, {"flag": False, "name": "Ada"})
    steps = {s["nodeId"]: s for s in stored["steps"]}
    assert list(steps) == ["req-1", "cond-7", "fn-3", "resp-no"]
    assert "resp-ok" not in steps  # the setup frame (parameters only) is not recorded
    # The Function node received its data input but was never told to run: no outputs.
    assert (steps["fn-3"]["inputData"], steps["fn-3"]["outputData"]) == ({"in-name": "Ada"}, {})


async def test_a_node_that_runs_again_gets_a_new_step_with_the_next_run_index(
    history: ExecutionHistory,
) -> None:
    recorder = history.recorder_for()
    assert recorder is not None
    recorder.run_started("r", "loop", {"headers": {}, "body": "{}"})
    recorder.node_started("r", "param-only", "Condition", {"condition": True})  # setup frame: not a step
    recorder.node_finished("r", "param-only", "Condition", {})
    recorder.node_started("r", "req", "noodl.cloud.request", {"headers": {}, "body": "{}"})
    recorder.node_finished("r", "req", "noodl.cloud.request", {"receive": True})
    for value in (1, 2):
        recorder.node_started("r", "counter", "Counter", {"increase": True})
        recorder.node_finished("r", "counter", "Counter", {"value": value})
    recorder.node_started("r", "idle", "Counter", {})  # consumed nothing, sent nothing: not a step
    recorder.node_finished("r", "idle", "Counter", {})
    recorder.node_started("r", "late", "Counter", {})  # consumed nothing but sent something: a step
    recorder.node_finished("r", "late", "Counter", {"value": 0})
    recorder.run_finished("r", 200, "{}", "responded")
    assert history.writer is not None
    await history.writer.flush()
    assert recorder.execution_id is not None
    stored = await history.get_execution(recorder.execution_id)
    assert stored is not None

    assert [(s["nodeId"], s["runIndex"], s.get("outputData")) for s in stored["steps"]] == [
        ("req", 0, {"receive": True}),
        ("counter", 0, {"value": 1}),
        ("counter", 1, {"value": 2}),
        ("late", 0, {"value": 0}),
    ]


async def test_a_failing_node_records_its_error_and_the_run_fails(history: ExecutionHistory) -> None:
    stored = await run_recorded(history, {"flag": True, "name": "Ada"}, script="throw new Error('kaboom')")

    failed = [s for s in stored["steps"] if s["status"] == "error"]
    assert [s["nodeId"] for s in failed] == ["fn-3"]
    assert "Error: kaboom" in failed[0]["errorMessage"]
    assert stored["status"] == "error"
    assert stored["errorMessage"].startswith("HTTP 504")
    assert stored["metadata"]["timedOut"] is True
    assert stored["metadata"]["timeoutMs"] == 200


async def test_trigger_and_backend_metadata(history: ExecutionHistory) -> None:
    trigger = RunTrigger("schedule", trigger_source="cron", trigger_id="trg_1", extra={"retryOf": "exec_old"})
    stored = await run_recorded(history, {"flag": False}, trigger=trigger)
    assert stored["triggerType"] == "schedule"
    assert stored["metadata"] == {
        "backendId": "backend_test",
        "backendName": "Test backend",
        "triggerSource": "cron",
        "triggerId": "trg_1",
        "retryOf": "exec_old",
    }


async def test_secrets_in_headers_and_body_never_reach_the_database(
    history: ExecutionHistory, tmp_path: Path, history_url: str | None
) -> None:
    secrets = ["Bearer eyJhbGciOi.SECRET-JWT", "mk-MASTER-KEY-123", "hunter2-PASSWORD", "sk_live_APIKEY999"]
    headers = {
        "Authorization": secrets[0],
        "X-Parse-Master-Key": secrets[1],
        "Content-Type": "application/json",
    }
    # The password also flows into the Function node under another port name ("in-name").
    body = {"flag": True, "name": secrets[2], "password": secrets[2], "nested": {"apiKey": secrets[3]}}

    stored = await run_recorded(history, body, headers)
    await history.close()

    assert stored["triggerData"]["headers"]["Content-Type"] == "application/json"
    raw = await database_bytes(tmp_path, history_url)
    assert b"[REDACTED]" in raw
    for secret in [*secrets, "eyJhbGciOi.SECRET-JWT"]:
        assert secret.encode() not in raw


async def test_a_storage_failure_never_fails_the_run(tmp_path: Path) -> None:
    class BrokenStore:
        async def write(self, batch: WriteBatch) -> None:
            raise OSError("disk full")

    writer = HistoryWriter(BrokenStore())  # type: ignore[arg-type]  # only ``write`` is needed here
    writer.start()

    recorder = HistoryRecorder(writer, None, backend_id="b", backend_name="B").for_run()
    response = await Runtime.from_export(condition_then_function()).run(
        "greet", make_request({"flag": True, "name": "Ada"}), recorder=recorder
    )
    await writer.stop()

    assert (response.status_code, json.loads(response.body)) == (200, {"result": {"greeting": "Hello Ada"}})
    assert writer.dropped > 0
    assert writer.last_error == "disk full"


async def test_a_recorder_failure_never_fails_the_run(history: ExecutionHistory, bus: EventBus) -> None:
    def exploding_publish(event: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe("backend_test")
    bus.publish = exploding_publish  # type: ignore[method-assign]
    recorder = history.recorder_for()
    response = await Runtime.from_export(condition_then_function()).run(
        "greet", make_request({"flag": True, "name": "Ada"}), recorder=recorder
    )
    assert response.status_code == 200


async def test_a_finished_run_is_readable_at_once_without_waiting_for_the_writer(tmp_path: Path) -> None:
    """The editor reads a run as soon as it got its finished event: reads flush queued rows first."""
    # The writer would hold the rows back for a minute before committing them.
    config = HistoryConfig(write_linger_seconds=60.0)
    history = await ExecutionHistory.open(
        tmp_path, backend_id="b", backend_name="B", bus=EventBus(), config=config
    )
    try:
        recorder = history.recorder_for()
        assert recorder is not None
        runtime = Runtime.from_export(condition_then_function(), timeout_seconds=0.2)
        await runtime.run("greet", make_request({"flag": True, "name": "Ada"}), recorder=recorder)
        assert recorder.execution_id is not None

        stored = await asyncio.wait_for(history.get_execution(recorder.execution_id), timeout=5)
        assert stored is not None
        assert stored["status"] == "success"
        assert [s["nodeId"] for s in stored["steps"]] == ["req-1", "cond-7", "fn-3", "resp-ok"]
        listed = await asyncio.wait_for(history.list_executions({"workflowId": "greet"}), timeout=5)
        assert [row["id"] for row in listed["executions"]] == [recorder.execution_id]
    finally:
        await history.close()


async def test_a_lone_surrogate_in_the_request_is_stored_escaped_and_loses_no_run(
    history: ExecutionHistory,
) -> None:
    """JSON may carry "\\ud800", which UTF-8 cannot: the run is still recorded, as are its neighbours."""
    runtime = Runtime.from_export(condition_then_function(), timeout_seconds=0.2)
    odd, plain = history.recorder_for(), history.recorder_for()
    assert odd is not None
    assert plain is not None
    await runtime.run("greet", make_request('{"flag": false, "name": "a\\ud800b"}'), recorder=odd)
    await runtime.run("greet", make_request({"flag": False, "name": "Ada"}), recorder=plain)

    assert odd.execution_id is not None
    assert plain.execution_id is not None
    stored = await history.get_execution(odd.execution_id)
    assert stored is not None
    assert stored["status"] == "success"
    assert stored["steps"][0]["inputData"]["body"]["name"] == "a\ud800b"  # the escape reads back as it came
    assert await history.get_execution(plain.execution_id) is not None


async def test_port_values_json_cannot_write_are_stored_as_javascript_would_send_them(
    history: ExecutionHistory,
) -> None:
    """A step's small port dicts are serialized by the writer with its batch: NaN and Infinity become null
    (JSON.stringify), and the sizes are those of the stored text."""
    recorder = request_received(history)
    recorder.node_started("r", "calc", "Expression", {"a": float("nan"), "b": "é"})
    recorder.node_finished("r", "calc", "Expression", {"result": float("inf")})
    recorder.run_finished("r", 200, '{"result":{}}', "responded")
    assert recorder.execution_id is not None

    stored = await history.get_execution(recorder.execution_id)

    assert stored is not None
    calc = stored["steps"][1]
    assert calc["inputData"] == {"a": None, "b": "é"}
    assert calc["outputData"] == {"result": None}
    assert calc["inputSize"] == len('{"a":null,"b":"é"}'.encode())
    assert calc["outputSize"] == len(b'{"result":null}')


async def test_a_backlog_is_written_in_parts_and_loses_nothing(
    history: ExecutionHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch larger than one document (the disk stalled while runs went on) is split: executions first,
    so every step finds its execution already written."""
    monkeypatch.setattr(db_write, "MAX_DOCUMENT_ROWS", 3)
    recorders = [request_received(history) for _ in range(4)]
    for recorder in recorders:
        recorder.node_started("r", "calc", "Expression", {"a": 1})
        recorder.node_finished("r", "calc", "Expression", {"result": "needle"})
        recorder.run_finished("r", 200, "{}", "responded")

    for recorder in recorders:
        assert recorder.execution_id is not None
        stored = await history.get_execution(recorder.execution_id)
        assert stored is not None
        assert stored["status"] == "success"
        assert [step["nodeId"] for step in stored["steps"]] == ["req", "calc"]
    found = await history.list_executions({"search": "needle"})
    assert len(found["executions"]) == 4


async def test_integers_beyond_64_bits_in_port_values_are_stored_exactly(history: ExecutionHistory) -> None:
    recorder = request_received(history)
    recorder.node_started("r", "calc", "Expression", {"a": 2**70})
    recorder.node_finished("r", "calc", "Expression", {"result": -(2**70)})
    recorder.run_finished("r", 200, "{}", "responded")
    assert recorder.execution_id is not None

    stored = await history.get_execution(recorder.execution_id)

    assert stored is not None
    assert stored["steps"][1]["inputData"] == {"a": 2**70}
    assert stored["steps"][1]["outputData"] == {"result": -(2**70)}


async def test_lone_surrogates_in_port_values_and_errors_lose_no_run(history: ExecutionHistory) -> None:
    """Port data keeps the escape (as JSON); a text column gets U+FFFD; the rest of the batch is stored."""
    odd, plain = request_received(history), request_received(history)
    odd.node_started("r", "calc", "Expression", {"a": "x\ud800y"})
    odd.node_failed("r", "calc", "Expression", "bad \udfff value")
    for recorder in (odd, plain):
        recorder.run_finished("r", 200, "{}", "responded")
    assert odd.execution_id is not None
    assert plain.execution_id is not None

    stored = await history.get_execution(odd.execution_id)

    assert stored is not None
    calc = stored["steps"][1]
    assert calc["inputData"] == {"a": "x\ud800y"}
    assert calc["errorMessage"] == "bad \ufffd value"
    assert await history.get_execution(plain.execution_id) is not None


async def test_steps_of_an_execution_deleted_while_they_were_queued_are_dropped(
    history: ExecutionHistory,
) -> None:
    """Clear or retention may delete an execution whose later steps are still queued: they are dropped
    and the rest of their batch is stored."""
    gone, kept = request_received(history), request_received(history)
    assert gone.execution_id is not None
    assert kept.execution_id is not None
    await history.delete(gone.execution_id)  # writes what is queued first
    for recorder in (gone, kept):
        recorder.node_started("r", "calc", "Expression", {"a": 1})
        recorder.node_finished("r", "calc", "Expression", {"result": 2})
    kept.run_finished("r", 200, "{}", "responded")

    stored = await history.get_execution(kept.execution_id)

    assert stored is not None
    assert [step["nodeId"] for step in stored["steps"]] == ["req", "calc"]
    assert await history.get_execution(gone.execution_id) is None


async def test_a_run_is_found_by_words_in_its_step_outputs_and_its_error(history: ExecutionHistory) -> None:
    await run_recorded(history, {"flag": True, "name": "Zebediah"})
    await run_recorded(history, {"flag": True, "name": "Ada"}, script="throw new Error('Quetzalcoatl')")

    found = await history.list_executions({"search": "zebediah"})
    assert [row["status"] for row in found["executions"]] == ["success"]
    failed = await history.list_executions({"search": "quetzalcoatl"})
    assert [row["status"] for row in failed["executions"]] == ["error"]
