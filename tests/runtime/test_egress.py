"""The egress policy (``sidecar.runtime.egress``) on every outbound request of the runtime: cloud
metadata endpoints and the sidecar's own ports are refused in every mode; a deployed backend also
refuses loopback, link-local and private addresses unless ``NOODL_EGRESS_ALLOW`` lists them; the local
editor mode keeps localhost reachable. Names are checked on the addresses they resolve to, redirects
hop by hop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiohttp import web

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.errors import EgressRefusedError
from sidecar.runtime import Runtime, egress, make_request
from sidecar.runtime.egress import EgressPolicy
from sidecar.runtime.http_client import AiohttpClient, FetchResult
from tests.runtime.graphs import tagged_function

METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
]


@pytest.fixture(autouse=True)
def local_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts in the editor's mode, with no door of this process registered."""
    monkeypatch.setattr(egress, "_policy", EgressPolicy())
    monkeypatch.setattr(egress, "_own_ports", set())


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """A local API on loopback; ``/to?url=…`` redirects to any URL."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/to", to)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def fetch(url: str) -> FetchResult:
    async with asyncio.timeout(10):  # a refusal is immediate; before the policy these hung on connect
        return await AiohttpClient().fetch("GET", url, [], None, 1024 * 1024)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_the_editor_mode_reaches_local_apis(upstream: str) -> None:
    assert (await fetch(f"{upstream}/ok")).status == 200
    localhost = upstream.replace("127.0.0.1", "localhost")
    assert (await fetch(f"{localhost}/ok")).status == 200


@pytest.mark.parametrize("url", METADATA_URLS)
@pytest.mark.parametrize("deployed", [False, True])
async def test_cloud_metadata_endpoints_are_always_refused(url: str, deployed: bool) -> None:
    # Even a deployment that allows every link-local and private address.
    allow = "169.254.0.0/16,fd00::/8,::ffff:0:0/96,metadata.google.internal"
    egress.configure(EgressPolicy.from_allow_list(allow, deployed=deployed))
    with pytest.raises(EgressRefusedError, match="cloud metadata"):
        await fetch(url)


async def test_a_deployed_backend_refuses_loopback_by_address_and_by_name(upstream: str) -> None:
    egress.configure(EgressPolicy.from_allow_list("", deployed=True))
    with pytest.raises(EgressRefusedError, match="not a public address"):
        await fetch(f"{upstream}/ok")
    with pytest.raises(EgressRefusedError, match="not a public address"):
        await fetch(upstream.replace("127.0.0.1", "localhost") + "/ok")  # resolved, then checked


@pytest.mark.parametrize("allow", ["127.0.0.1", "127.0.0.0/8", "localhost"])
async def test_the_allow_list_opens_a_private_address_to_a_deployed_backend(
    upstream: str, allow: str
) -> None:
    egress.configure(EgressPolicy.from_allow_list(f"10.0.0.0/8, {allow}", deployed=True))
    assert (await fetch(upstream.replace("127.0.0.1", "localhost") + "/ok")).status == 200


def test_serve_reads_the_allow_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOODL_EGRESS_ALLOW", "10.1.0.0/16,db.internal")
    policy = egress.policy_for_serve(host_is_loopback=False)
    assert policy.deployed
    assert policy.refusal(ip_address("10.1.2.3"), 5432) is None
    assert policy.refusal(ip_address("10.2.0.1"), 5432) is not None
    assert policy.refusal(ip_address("192.168.0.9"), 5432, "db.internal") is None
    assert policy.refusal(ip_address("8.8.8.8"), 443) is None


@pytest.mark.parametrize(
    ("loopback", "mode", "deployed"),
    [(True, "", False), (False, "", True), (True, "deployed", True), (False, "local", True)],
)
def test_serve_is_deployed_when_other_machines_reach_it_or_when_told(
    monkeypatch: pytest.MonkeyPatch, loopback: bool, mode: str, deployed: bool
) -> None:
    # A serve on loopback is a developer's local server (the editor's launcher, demo --serve): its
    # functions call local APIs. Bound wider, or told so by the container image, it is deployed.
    monkeypatch.setenv("NOODL_EGRESS", mode)
    monkeypatch.setenv("NOODL_EGRESS_ALLOW", "10.1.0.0/16")
    policy = egress.policy_for_serve(host_is_loopback=loopback)
    assert policy.deployed is deployed
    assert (policy.refusal(ip_address("127.0.0.1"), 8080) is None) is not deployed
    assert policy.refusal(ip_address("10.1.2.3"), 5432) is None
    assert policy.refusal(ip_address("169.254.169.254"), 80) is not None


async def test_the_sidecars_own_port_is_refused_in_the_editor_mode(upstream: str) -> None:
    egress.listening(port_of(upstream))
    for url in (
        upstream,
        upstream.replace("127.0.0.1", "localhost"),
        upstream.replace("127.0.0.1", "0.0.0.0"),
    ):
        with pytest.raises(EgressRefusedError, match="own port"):
            await fetch(f"{url}/ok")
    egress.stopped_listening(port_of(upstream))
    assert (await fetch(f"{upstream}/ok")).status == 200


async def test_every_redirect_hop_is_checked(upstream: str) -> None:
    with pytest.raises(EgressRefusedError, match="cloud metadata"):
        await fetch(f"{upstream}/to?url=http://169.254.169.254/latest/meta-data/")
    assert (await fetch(f"{upstream}/to?url={upstream}/ok")).status == 200


async def test_a_function_calling_the_sidecars_own_port_gets_a_failed_fetch(upstream: str) -> None:
    egress.listening(port_of(upstream))
    script = """
try { await fetch(Inputs.tag + '/ok'); Outputs.out = 'reached'; }
catch (e) { Outputs.out = e.constructor.name + ': ' + e.message + ' / ' + e.cause.message; }
Outputs.Done();
"""
    runtime = Runtime.from_export(tagged_function("calls", script))
    response = await runtime.run("calls", make_request({"tag": upstream}))
    out = json.loads(response.body)["result"]["out"]
    assert out.startswith(
        "TypeError: fetch failed / requests to 127.0.0.1 are refused: this sidecar's own port"
    )


async def test_a_rest_request_to_a_metadata_endpoint_is_refused() -> None:
    with pytest.raises(EgressRefusedError):
        async with asyncio.timeout(10):
            await AiohttpClient().request("GET", "http://169.254.169.254/latest/meta-data/", {}, None)


async def test_a_served_backend_registers_its_port(tmp_path: Path) -> None:
    served = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="egress1", name="Egress", admin_token="t" * 32)
    )
    await served.start()
    try:
        with pytest.raises(EgressRefusedError, match="own port"):
            await fetch(f"http://127.0.0.1:{served.port}/health")
    finally:
        await served.stop()
    assert served.port not in egress._own_ports
