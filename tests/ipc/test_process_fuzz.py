"""A real sidecar process fed random bytes never dies uncontrolled and never hangs."""

from __future__ import annotations

import io
import os
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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_end_in_an_answer_or_a_logged_exit(garbage: bytes) -> None:
    process = spawn()
    started = time.monotonic()
    try:
        # communicate() closes stdin after the bytes: whatever state the garbage left the
        # session in, EOF must end the process promptly.
        out, err = process.communicate(INITIALIZE + garbage, timeout=10)
    finally:
        process.kill()
    assert time.monotonic() - started < 3
    assert process.returncode in (0, 1), err.decode()
    assert b"Traceback" not in err, err.decode()
    frames = list(msgpack.Unpacker(io.BytesIO(out), raw=False))
    assert frames
    assert frames[0][:3] == [1, 1, None]
    assert all(isinstance(frame, list) and frame[0] in (1, 2) for frame in frames)
