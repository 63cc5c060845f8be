"""Deploy the demo backend (examples/hello.workflow.json) to the local Fly contract server and call the
deployed function through the app's address. ``scripts/demo --deploy`` runs it and prints what happens;
the ``deploy`` bench suite runs it and keeps the stage times.

Nothing leaves this machine: the Fly Machines API, the image registry and the machine (a real ``serve``
process started from the pushed image) are the test contract servers under ``tests/deploy/contract``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "fly-demo-token-0123456789abcdef"  # a local stand-in: the contract server checks it
APP = "noodl-demo"


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


async def deploy_demo(workdir: Path, say: Callable[[str], None] = _say) -> dict[str, Any]:
    os.environ.setdefault("NOODL_CREDENTIALS_KEYRING", "0")  # the demo's key file, not the OS keyring
    import aiohttp

    from sidecar import logs

    logs.configure("warning")  # the stages are said below; the sidecar's info lines would repeat them
    from sidecar.credentials import CredentialStore
    from sidecar.deploy import flow
    from sidecar.deploy.targets import TargetStore
    from sidecar.jsonfile import write_json_atomic
    from tests.deploy.contract.cloud import local_cloud

    data_dir = workdir / "backends" / "backend_demo"
    (data_dir / "workflows").mkdir(parents=True)
    write_json_atomic(data_dir / "config.json", {"id": "backend_demo", "name": "Demo"})
    hello = (ROOT / "examples" / "hello.workflow.json").read_bytes()
    (data_dir / "workflows" / "hello.workflow.json").write_bytes(hello)
    CredentialStore(data_dir).create("fly", TOKEN, "fly")

    async with local_cloud(workdir / "cloud", TOKEN) as cloud:
        say(f"local Fly Machines API at {cloud.fly_url}, registry at {cloud.registry_host}")
        TargetStore(data_dir).configure("production", "fly", APP, region="ams", **cloud.target_settings())
        started = time.monotonic()
        release = await flow.deploy(
            data_dir,
            "production",
            on_stage=lambda message, _percent: say(f"  {message}"),
            options=flow.FlowOptions(health_timeout_s=60.0, poll_s=0.1),
        )
        total = time.monotonic() - started
        say(f"release {release['version']} is {release['status']} at {release['url']} in {total:.1f} s")
        url = f"{release['url']}/functions/hello"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json={"name": "Ada"}, headers={"X-Parse-Application-Id": "backend_demo"}) as reply,
        ):
            answer = await reply.json(content_type=None)
        say(f"POST {url} {{'name': 'Ada'}} -> {reply.status} {json.dumps(answer)}")
        return {
            "whole_flow_s": round(total, 3),
            "stages_s": release["stages"],
            "image_bytes": sum(len(blob) for blob in cloud.registry.blobs.values()),
            "function_status": reply.status,
            "function_result": answer.get("result"),
        }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="noodl-deploy-demo-") as scratch:
        figures = asyncio.run(deploy_demo(Path(scratch)))
    ok = figures["function_status"] == 200
    _say("the deployed function answered" if ok else "the deployed function did not answer")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
