"""``noodl-sidecar stdio`` ends cleanly at the end of its input, whatever stdin is.

asyncio cannot watch a regular file or /dev/null (epoll refuses them), and a closed descriptor 0
would be handed out again by the process's own dups: each of these once logged an error and hung,
or lost the protocol. The lifecycle is the pipe's: EOF before ``shutdown`` exits with 1, after
``shutdown``/``exit`` with 0, and junk ends the session with one logged reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import IO, Any

import msgpack
import pytest

from tests.cli.helpers import SIDECAR, log_records, sidecar_env
from tests.conftest import PROJECT_ROOT

DEADLINE_S = 20  # generous for a loaded machine; a hang is what this guards against


def _stdio(home: Path, stdin: int | IO[Any] | None, **options: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*SIDECAR, "stdio"],
        cwd=PROJECT_ROOT,
        env=sidecar_env(home),
        stdin=stdin,
        capture_output=True,
        timeout=DEADLINE_S,
        check=False,
        **options,
    )


def _without_stdout(done: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.CompletedProcess(done.args, done.returncode, b"", done.stderr)


def _ended_at_eof(done: subprocess.CompletedProcess[bytes]) -> None:
    stderr = done.stderr.decode()
    records = log_records(stderr)
    assert done.returncode == 1, stderr[-2000:]
    [exiting] = [r for r in records if r.get("event") == "exiting"]
    assert exiting["reason"] in ("stdin closed", "stdin closed during start-up")
    assert not [r for r in records if r.get("level") in ("error", "critical")], stderr[-2000:]
    assert "Traceback" not in stderr
    assert done.stdout == b""


def test_dev_null_is_an_immediate_eof(tmp_path: Path) -> None:
    with open(os.devnull, "rb") as null:
        _ended_at_eof(_stdio(tmp_path, null))


def test_an_empty_file_is_an_immediate_eof(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with empty.open("rb") as stdin:
        _ended_at_eof(_stdio(tmp_path, stdin))


def test_a_pipe_closed_before_start_is_an_eof(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    try:
        _ended_at_eof(_stdio(tmp_path, read_end))
    finally:
        os.close(read_end)


def test_a_closed_stdin_is_an_eof_and_does_not_swallow_stdout(tmp_path: Path) -> None:
    # Popen cannot leave fd 0 closed by itself; the child closes it before exec.
    done = _stdio(tmp_path, None, preexec_fn=lambda: os.close(0))
    _ended_at_eof(done)


def test_a_file_holding_requests_is_answered_then_its_eof_ends_the_session(tmp_path: Path) -> None:
    frames = [
        [0, 1, "initialize", [{"protocolVersion": "1.0", "clientInfo": {"name": "file", "version": "1"}}]],
        [2, "initialized", []],
    ]  # then EOF
    session = tmp_path / "session.bin"
    session.write_bytes(b"".join(msgpack.packb(frame) for frame in frames))
    with session.open("rb") as stdin:
        done = _stdio(tmp_path, stdin)

    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(done.stdout)
    answers = list(unpacker)
    assert [(a[0], a[1], a[2]) for a in answers] == [(1, 1, None)]
    assert answers[0][3]["serverInfo"]["name"] == "noodl-sidecar"
    _ended_at_eof(_without_stdout(done))


@pytest.mark.parametrize("junk", [b"oops, this is text\n", bytes(range(1, 40))])
def test_junk_on_stdin_is_logged_once(tmp_path: Path, junk: bytes) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, junk)
    os.close(write_end)
    try:
        done = _stdio(tmp_path, read_end)
    finally:
        os.close(read_end)

    fatal = [r for r in log_records(done.stderr.decode()) if r.get("event") == "protocol_fatal"]
    assert done.returncode == 1
    assert len(fatal) == 1, fatal
    assert "stream corrupted" in fatal[0]["reason"]


def test_stdout_may_be_a_regular_file(tmp_path: Path) -> None:
    """The writer falls back to a thread for a file; it once failed there before answering anything."""
    request = [0, 1, "initialize", [{"protocolVersion": "1.0", "clientInfo": {"name": "f", "version": "1"}}]]
    stdin_file, stdout_file = tmp_path / "in.bin", tmp_path / "out.bin"
    stdin_file.write_bytes(msgpack.packb(request))
    with stdin_file.open("rb") as stdin, stdout_file.open("wb") as stdout:
        done = subprocess.run(
            [*SIDECAR, "stdio"],
            cwd=PROJECT_ROOT,
            env=sidecar_env(tmp_path),
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=DEADLINE_S,
            check=False,
        )

    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(stdout_file.read_bytes())
    assert [answer[:3] for answer in unpacker] == [[1, 1, None]]
    _ended_at_eof(subprocess.CompletedProcess(done.args, done.returncode, b"", done.stderr))


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_input_hung_up_during_start_up_ends_the_process_before_its_imports_finish(
    tmp_path: Path, kind: str
) -> None:
    """The editor's death in the first instants is seen at once, not after a second of imports."""
    if kind == "pipe":
        ours, theirs = os.pipe()
        child_end, keep = ours, theirs
    else:
        left, right = socket.socketpair()
        child_end, keep = left.detach(), right.detach()
    process = subprocess.Popen(
        [*SIDECAR, "stdio"],
        cwd=PROJECT_ROOT,
        env=sidecar_env(tmp_path),
        stdin=child_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(child_end)
    os.close(keep)  # the editor is gone

    _out, err = process.communicate(timeout=DEADLINE_S)

    records = log_records(err.decode())
    assert process.returncode == 1
    assert [r["reason"] for r in records if r.get("event") == "exiting"] == ["stdin closed during start-up"]
    assert not [r for r in records if r.get("event") == "ready"], "it left before finishing its imports"
