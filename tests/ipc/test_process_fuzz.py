"""A real sidecar process fed random bytes never dies uncontrolled and never hangs."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT_ROOT

INITIALIZE = msgpack.packb([0, 1, "initialize", [{"protocolVersion": "1.0"}]])


def spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sidecar", "stdio"],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def first_frame(process: subprocess.Popen[bytes], within: float) -> object:
    """The first frame the process writes, read without blocking forever."""
    assert process.stdout is not None
    unpacker = msgpack.Unpacker(raw=False)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        unpacker.feed(chunk)
        for frame in unpacker:
            return frame
    raise AssertionError("no answer to initialize")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_end_in_an_answer_or_a_logged_exit(garbage: bytes) -> None:
    process = spawn()
    assert process.stdin is not None
    try:
        process.stdin.write(INITIALIZE)
        process.stdin.flush()
        answered = first_frame(process, within=30)  # start-up time is not what this test measures
        # Whatever state the garbage leaves the session in, EOF must end the process promptly.
        started = time.monotonic()
        out, err = process.communicate(garbage, timeout=10)
    finally:
        process.kill()
    assert time.monotonic() - started < 3
    assert process.returncode in (0, 1), err.decode()
    assert b"Traceback" not in err, err.decode()
    assert isinstance(answered, list)
    assert answered[:3] == [1, 1, None]
    frames = list(msgpack.Unpacker(io.BytesIO(out), raw=False))
    assert all(isinstance(frame, list) and frame[0] in (1, 2) for frame in frames)
