"""What the Railway and Render contract servers share: a running *unit* (a deployment) is a real
``serve`` process started from the pushed image, like a Fly machine in ``fly.py``: pull the manifest and
the layer with the registry credentials the provider was given, unpack ``/app``, start ``bin/start`` with
the unit's env and a volume folder, ``started`` once it prints its ready line, ``failed`` if it exits."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import os
import shutil
import signal
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class Unit:
    key: str
    image: str
    state: str = "starting"
    port: int = 0
    exit_code: int | None = None
    ready_delay_s: float = 0.0  # scripted slow start: "started" this much after the ready line
    process: asyncio.subprocess.Process | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, state: str) -> None:
        self.state = state
        self.changed.set()


async def pull_image(workdir: Path, reference: str, login: tuple[str, str]) -> Path:
    registry, _, rest = reference.partition("/")
    name, _, tag = rest.rpartition(":")
    header = "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
    async with aiohttp.ClientSession(f"http://{registry}", headers={"Authorization": header}) as http:
        async with http.get(f"/v2/{name}/manifests/{tag}") as reply:
            if reply.status != 200:
                raise LookupError(f"image {reference}: registry answered {reply.status}")
            manifest: dict[str, Any] = json.loads(await reply.read())
        layer = str(manifest["layers"][0]["digest"])
        root = workdir / "images" / layer.replace(":", "-")
        if not root.exists():
            async with http.get(f"/v2/{name}/blobs/{layer}") as reply:
                data = await reply.read()
            staging = root.with_suffix(".partial")
            shutil.rmtree(staging, ignore_errors=True)
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
                tar.extractall(staging, filter="tar")
            staging.rename(root)
    return root


async def start_unit(
    workdir: Path, unit: Unit, login: tuple[str, str], env: dict[str, str], volume: str
) -> None:
    """Start ``unit`` (its state follows the process); a missing image fails it at once."""
    try:
        root = await pull_image(workdir, unit.image, login)
    except (LookupError, aiohttp.ClientError):
        unit.exit_code = 125
        unit.set("failed")
        return
    data = workdir / "volumes" / volume
    data.mkdir(parents=True, exist_ok=True)
    full = {key: value for key, value in os.environ.items() if not key.startswith(("NOODL_", "PYTHONPATH"))}
    full |= env
    full |= {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PORT": "0",  # the unit picks a free port itself and names it in its ready line (no race)
        "NOODL_HOST": "127.0.0.1",
        "NOODL_DATA_DIR": str(data),
        "NOODL_CREDENTIALS_KEYRING": "0",
        "NOODL_LOG_LEVEL": "warning",
    }
    log = workdir / "logs" / f"{unit.key}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as stderr:
        unit.process = await asyncio.create_subprocess_exec(
            str(root / "app" / "bin" / "start"), cwd=str(root), env=full,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
    asyncio.get_running_loop().create_task(_watch(unit, unit.process))


async def _watch(unit: Unit, process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    line = await process.stdout.readline()
    ready = line.startswith(b"NODEGX_BACKEND_READY")
    if ready:  # listening from now on, whatever the provider reports
        unit.port = int(json.loads(line.split(b" ", 1)[1])["port"])
    if unit.ready_delay_s:
        await asyncio.sleep(unit.ready_delay_s)
    if ready and unit.state == "starting":
        unit.set("started")
    code = await process.wait()
    if unit.state in ("starting", "started"):
        unit.exit_code = code
        unit.set("failed" if code else "stopped")


async def stop_unit(unit: Unit) -> None:
    process, unit.process = unit.process, None
    unit.set("stopping")
    if process is not None and process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
    unit.set("stopped")


async def proxy(request: web.Request, unit: Unit | None, tail: str) -> web.StreamResponse:
    if unit is None or unit.state != "started":
        return web.Response(status=502, text="no running deployment")
    url = f"http://127.0.0.1:{unit.port}/{tail}"
    skipped = ("host", "content-length")
    headers = {key: value for key, value in request.headers.items() if key.lower() not in skipped}
    body = await request.read()
    async with (
        aiohttp.ClientSession() as http,
        http.request(request.method, url, params=request.query, data=body, headers=headers) as reply,
    ):
        data = await reply.read()
        kept = {key: value for key, value in reply.headers.items() if key.lower() == "content-type"}
        return web.Response(status=reply.status, body=data, headers=kept)
