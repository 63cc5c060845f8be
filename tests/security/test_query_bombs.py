"""Queries an anonymous caller can send cannot take the server down (issue 15, reproductions 2 and 5).

The server runs as ``noodl-sidecar serve`` in a child process whose address space is capped, so that a
regression (the regex bomb once grew the process to 23 GB) fails these tests instead of the machine.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import PROJECT_ROOT

READY = "NODEGX_BACKEND_READY "
BACKEND_ID = "backend_bomb1"
APP = {"X-Parse-Application-Id": BACKEND_ID}
ADDRESS_SPACE = 2 * 1024**3
"""The child's cap: an idle server maps ~0.5 GB; the bombs would need hundreds of GB."""

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[str]
    base: str

    def peak_memory_mb(self) -> float:
        """The child's peak resident memory (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("bombs") / BACKEND_ID
    process = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "serve", "--data-dir", str(data_dir), "--backend-id", BACKEND_ID],
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},  # fewer 64 MB malloc arenas reserved per thread
        preexec_fn=_cap_address_space,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith(READY), line
        base = json.loads(line[len(READY) :])["url"]
        seed = urllib.request.Request(
            f"{base}/classes/Inj", data=json.dumps({"name": "aaaa", "n": 1}).encode(), headers=APP
        )
        with urllib.request.urlopen(seed, timeout=10) as reply:
            assert reply.status == 201
        yield Server(process, base)
    finally:
        process.kill()
        process.communicate(timeout=10)


async def call(session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.request(method, path, headers=APP, **kwargs) as response:
        return response.status, json.loads(await response.text())


def where(value: Any) -> dict[str, str]:
    return {"where": json.dumps(value)}


def _find_body(value: Any) -> io.BytesIO:
    """A find sent as POST with ``_method: GET`` (a where too large for a URL); a stream, as aiohttp asks."""
    return io.BytesIO(json.dumps({"_method": "GET", "where": value}).encode())


def _deep(operator: str, depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"name": "x"}
    for _ in range(depth):
        value = {operator: [value]}
    return value


async def test_regex_bombs_are_refused_before_they_allocate(server: Server) -> None:
    async with aiohttp.ClientSession(server.base) as session:
        for pattern in ("a{1000000000}", "(?:a{30000}){30000}"):
            for path in ("/classes/Inj", "/api/Inj"):
                status, body = await call(session, "GET", path, params=where({"name": {"$regex": pattern}}))
                assert status == 400, (path, pattern, body)
                assert body.get("code") == 102, body
        assert server.process.poll() is None, "the server died"
        assert server.peak_memory_mb() < 500
        status, body = await call(session, "GET", "/classes/Inj")
        assert status == 200
        assert body["results"][0]["name"] == "aaaa"


@pytest.mark.parametrize(
    ("method", "request_args"),
    [
        ("GET", {"params": {"limit": "99999999999999999999"}}),
        ("GET", {"params": {"skip": "99999999999999999999"}}),
        ("GET", {"params": where(_deep("$and", 100))}),
        ("GET", {"params": where(_deep("$or", 100))}),
        ("POST", {"data": _find_body({"$or": [{"n": i} for i in range(100_000)]})}),
        ("POST", {"data": _find_body({"n": {"$in": list(range(100_000))}})}),
    ],
    ids=["limit", "skip", "and-100-deep", "or-100-deep", "or-100000", "in-100000"],
)
async def test_oversized_queries_are_400_with_code_102(
    server: Server, method: str, request_args: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession(server.base) as session:
        status, body = await call(session, method, "/classes/Inj", **request_args)
        assert status == 400, body
        assert body.get("code") == 102, body


@pytest.mark.parametrize("path", ["/classes/Inj", "/api/Inj"])
async def test_a_where_nested_past_the_json_decoder_is_400(server: Server, path: str) -> None:
    async with aiohttp.ClientSession(server.base) as session:
        status, body = await call(session, "GET", path, params={"where": "[" * 1_100 + "]" * 1_100})
        assert status == 400, body


async def test_a_body_nested_past_the_json_decoder_is_400(server: Server) -> None:
    async with aiohttp.ClientSession(server.base) as session:
        deep = io.BytesIO(b'{"where":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        status, body = await call(session, "POST", "/classes/Inj", data=deep)
        assert status == 400, body


@pytest.mark.slow
async def test_redos_queries_do_not_starve_other_reads(server: Server) -> None:
    async with aiohttp.ClientSession(server.base) as session:
        status, created = await call(session, "POST", "/classes/Slow", json={"s": "a" * 30_000 + "!"})
        assert status == 201
        redos = where({"s": {"$regex": "(a|aa)+$"}})
        started = time.monotonic()
        attacks = [asyncio.create_task(call(session, "GET", "/classes/Slow", params=redos)) for _ in range(8)]
        await asyncio.sleep(0.3)  # all eight sent: two run, the others wait
        read_started = time.monotonic()
        status, fetched = await call(session, "GET", f"/classes/Slow/{created['objectId']}")
        waited = time.monotonic() - read_started
        assert status == 200
        assert fetched["objectId"] == created["objectId"]
        assert waited < 1.0, f"an unrelated read waited {waited:.1f} s"
        answers = await asyncio.gather(*attacks)
        assert [(status, body.get("code")) for status, body in answers] == [(400, 124)] * 8, answers
        assert time.monotonic() - started < 60
