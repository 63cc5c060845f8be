"""The session in memory: lifecycle, dispatch, cancellation, error shapes.

The sink is a real ``FrameSink`` that decodes what the session writes, so every
assertion is about bytes that would have gone to the editor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

from ipc_schema.diagnostics import EchoParams, SleepParams
from ipc_schema.lifecycle import InitializeOptions, ServerInfo, SetLogLevelOptions
from sidecar.ipc.framing import FrameDecoder
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.ipc.session import RpcSession, SessionHooks, SessionState


class CollectingSink:
    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False)
        self.messages: list[Any] = []

    def write(self, frame: bytes) -> None:
        self._unpacker.feed(frame)
        self.messages.extend(self._unpacker)

    async def wait_writable(self) -> None:
        return None

    def responses(self) -> dict[int, list[Any]]:
        return {m[1]: m for m in self.messages if m[0] == 1}

    def notifications(self, method: str) -> list[Any]:
        return [m[2] for m in self.messages if m[0] == 2 and m[1] == method]


class Harness:
    def __init__(self, table: MethodTable) -> None:
        self.sink = CollectingSink()
        self.closed: list[tuple[int, str]] = []
        self.shutdown_hook_calls = 0
        self.log_levels: list[str] = []

        async def on_shutdown() -> None:
            self.shutdown_hook_calls += 1

        hooks = SessionHooks(
            server_info=lambda: ServerInfo(
                name="noodl-sidecar", version="0.0.0", python="3", pid=1, frozen=False
            ),
            import_ms=1.5,
            on_initialize=lambda options: self.log_levels.append(options.log_level),
            on_set_log_level=lambda options: self.log_levels.append(options.level),
            on_shutdown=on_shutdown,
            on_close=lambda code, reason: self.closed.append((code, reason)),
        )
        self.session = RpcSession(table, self.sink, hooks, max_message_bytes=1024 * 1024)
        self.decoder = FrameDecoder(1024 * 1024)

    def send(self, *values: Any) -> None:
        for value in self.decoder.feed(b"".join(msgpack.packb(v) for v in values)):
            self.session.receive(value)

    async def call(self, msgid: int, method: str, params: list[Any]) -> list[Any]:
        self.send([0, msgid, method, params])
        for _ in range(200):
            if msgid in self.sink.responses():
                return self.sink.responses()[msgid]
            await asyncio.sleep(0.005)
        raise AssertionError(f"no response to {msgid}")

    async def initialize(self) -> None:
        response = await self.call(1, "initialize", [{"protocolVersion": "1.0", "logLevel": "debug"}])
        assert response[2] is None


def echo_table(handler: Callable[[CallContext, EchoParams], Any] | None = None) -> MethodTable:
    table = MethodTable()
    cancelled: list[bool] = []

    @table.method("diagnostics:echo")
    async def echo(ctx: CallContext, params: EchoParams) -> Any:
        return handler(ctx, params) if handler else params.value

    @table.method("diagnostics:sleep")
    async def sleep(ctx: CallContext, params: SleepParams) -> str:
        ctx.progress("begin", title="sleep")
        try:
            await asyncio.sleep(params.options.ms / 1000)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        ctx.progress("end")
        return "slept"

    table.cancelled = cancelled  # type: ignore[attr-defined]
    return table


async def test_requests_before_initialize_are_refused_with_32002() -> None:
    harness = Harness(echo_table())
    response = await harness.call(5, "diagnostics:echo", ["x"])
    assert response == [1, 5, {"code": -32002, "message": "diagnostics:echo: server not initialized"}, None]
    assert harness.session.state is SessionState.AWAITING_INITIALIZE


async def test_initialize_reports_capabilities_and_applies_the_log_level() -> None:
    harness = Harness(echo_table())
    response = await harness.call(1, "initialize", [{"protocolVersion": "1.3", "logLevel": "warning"}])
    result = response[3]
    assert result["protocolVersion"] == "1.0"
    assert result["importMs"] == 1.5
    assert set(result["capabilities"]["methods"]) == {
        "$/ping",
        "initialize",
        "shutdown",
        "diagnostics:echo",
        "diagnostics:sleep",
    }
    assert harness.log_levels == ["warning"]


async def test_initialize_with_bad_params_lists_the_pydantic_errors() -> None:
    harness = Harness(echo_table())
    response = await harness.call(1, "initialize", [{"protocolVersion": "one"}])
    error = response[2]
    assert error["code"] == -32602
    assert error["data"][0]["loc"] == ["options", "protocolVersion"]
    assert harness.session.state is SessionState.AWAITING_INITIALIZE


async def test_a_cancelled_call_is_answered_with_32800_and_its_task_is_cancelled() -> None:
    table = echo_table()
    harness = Harness(table)
    await harness.initialize()
    harness.send([0, 7, "diagnostics:sleep", [{"ms": 10_000}]])
    await asyncio.sleep(0.01)
    harness.send([2, "$/cancelRequest", [{"id": 7}]])
    response = await harness.call(8, "$/ping", [])
    assert response == [1, 8, None, None]
    await asyncio.sleep(0.01)
    assert harness.sink.responses()[7][2]["code"] == -32800
    assert table.cancelled == [True]  # type: ignore[attr-defined]


async def test_shutdown_lets_calls_in_flight_finish_first() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.send([0, 2, "diagnostics:sleep", [{"ms": 30}]])
    await harness.call(3, "shutdown", [])
    order = [m[1] for m in harness.sink.messages if m[0] == 1]
    assert order.index(2) < order.index(3)
    assert harness.sink.responses()[2] == [1, 2, None, None]  # finished, not cancelled
    assert harness.shutdown_hook_calls == 1
    after = await harness.call(4, "$/ping", [])
    assert after[2]["code"] == -32600
    harness.send([2, "exit", []])
    assert harness.closed == [(0, "exit notification")]


async def test_exit_without_shutdown_and_stdin_eof_close_with_code_1() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.session.connection_lost()
    assert harness.closed == [(1, "stdin closed")]
    harness.send([2, "exit", []])
    assert harness.closed == [(1, "stdin closed")]  # closing happens once


async def test_a_duplicate_id_in_flight_is_refused() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.send([0, 9, "diagnostics:sleep", [{"ms": 50}]], [0, 9, "diagnostics:echo", [1]])
    await asyncio.sleep(0.1)
    answers = [m for m in harness.sink.messages if m[0] == 1 and m[1] == 9]
    assert answers[0][2] == {"code": -32600, "message": "request id 9 is already in flight"}
    assert answers[1][2] is None  # the first call still completes normally


async def test_an_unexpected_exception_is_32603_with_an_error_id() -> None:
    def explode(_ctx: CallContext, _params: EchoParams) -> Any:
        raise RuntimeError("boom")

    harness = Harness(echo_table(explode))
    await harness.initialize()
    error = (await harness.call(3, "diagnostics:echo", [1]))[2]
    assert error["code"] == -32603
    assert error["message"] == "diagnostics:echo: internal error"
    assert len(error["data"]["errorId"]) == 12
    assert "boom" not in str(error)  # internals stay in the log


async def test_a_result_that_cannot_be_encoded_is_an_error_not_a_crash() -> None:
    harness = Harness(echo_table(lambda _ctx, _params: object()))
    await harness.initialize()
    error = (await harness.call(3, "diagnostics:echo", [1]))[2]
    assert error["code"] == -32603


async def test_a_trailing_meta_argument_carries_the_progress_token() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    await harness.call(4, "diagnostics:sleep", [{"ms": 1}, {"$meta": {"progressToken": "tok"}}])
    progress = harness.sink.notifications("$/progress")
    assert [p[0]["value"]["kind"] for p in progress] == ["begin", "end"]
    assert all(p[0]["token"] == "tok" for p in progress)


async def test_an_oversized_request_is_answered_under_its_id() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.send([0, 11, "diagnostics:echo", [b"x" * (2 * 1024 * 1024)]])
    error = harness.sink.responses()[11][2]
    assert error["code"] == -32600
    assert "exceeds the limit of 1048576 bytes" in error["message"]


async def test_notifications_before_initialize_are_dropped_and_unknown_ones_reported() -> None:
    harness = Harness(echo_table())
    harness.send([2, "$/cancelRequest", [{"id": 1}]], [2, "something", []])
    assert harness.sink.messages == []
    await harness.initialize()
    harness.send([2, "$/unknownButOptional", []], [2, "editor:thing", []])
    errors = harness.sink.notifications("$/error")
    assert len(errors) == 1
    assert errors[0][0]["code"] == -32601


async def test_set_log_level_notification_reaches_the_hook() -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.send([2, "$/setLogLevel", [{"level": "error"}]], [2, "$/setLogLevel", [{"level": "loud"}]])
    assert harness.log_levels == ["debug", "error"]
    assert harness.sink.notifications("$/error")[0][0]["code"] == -32602


@pytest.mark.parametrize("junk", [5, "text", {"a": 1}, []])
async def test_a_value_that_is_not_an_envelope_is_fatal(junk: Any) -> None:
    harness = Harness(echo_table())
    await harness.initialize()
    harness.send(junk)
    assert harness.closed
    assert harness.closed[0][0] == 1
    assert "stream corrupted" in harness.closed[0][1]


async def test_a_protocol_major_mismatch_is_refused_then_closes() -> None:
    harness = Harness(echo_table())
    response = await harness.call(1, "initialize", [{"protocolVersion": "2.0"}])
    assert response[2]["code"] == -32600
    assert harness.closed == [(1, "protocol version mismatch")]


def test_initialize_options_accept_snake_or_camel_case_and_ignore_unknown_keys() -> None:
    options = InitializeOptions.model_validate({"protocolVersion": "1.0", "parent_pid": 5, "future": True})
    assert options.parent_pid == 5
    assert SetLogLevelOptions.model_validate({"level": "info"}).log_notifications is None
