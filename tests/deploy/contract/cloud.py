"""Start the registry and the Fly contract server on free loopback ports (tests, demo and bench)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.deploy.contract.fly import FlyContract
from tests.deploy.contract.registry import Registry


@dataclass
class LocalCloud:
    fly: FlyContract
    registry: Registry
    fly_url: str
    registry_host: str

    def target_settings(self) -> dict[str, str]:
        """What a ``fly`` target needs to deploy here instead of to fly.io."""
        return {
            "api_base": self.fly_url,
            "registry": self.registry_host,
            "public_url": self.fly_url + "/_edge/{app}",
        }


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    return runner, port


@asynccontextmanager
async def local_cloud(workdir: Path, token: str) -> AsyncIterator[LocalCloud]:
    registry = Registry("x", token)
    fly = FlyContract(token, workdir, ("x", token))
    registry_runner, registry_port = await _serve(registry.app)
    fly_runner, fly_port = await _serve(fly.app)
    try:
        yield LocalCloud(fly, registry, f"http://127.0.0.1:{fly_port}", f"127.0.0.1:{registry_port}")
    finally:
        await fly_runner.cleanup()
        await registry_runner.cleanup()


@dataclass
class LocalPlatform:
    """A Railway or Render contract server with the registry it pulls from (its own login)."""

    server: Any
    registry: Registry
    url: str
    registry_host: str


@asynccontextmanager
async def local_platform(
    kind: str, workdir: Path, token: str, registry_login: tuple[str, str]
) -> AsyncIterator[LocalPlatform]:
    registry = Registry(*registry_login)
    server: Any
    if kind == "railway":
        from tests.deploy.contract.railway import RailwayContract

        server = RailwayContract(token, workdir)
    else:
        from tests.deploy.contract.render import RenderContract

        server = RenderContract(token, workdir)
    registry_runner, registry_port = await _serve(registry.app)
    runner, port = await _serve(server.app)
    try:
        yield LocalPlatform(server, registry, f"http://127.0.0.1:{port}", f"127.0.0.1:{registry_port}")
    finally:
        await runner.cleanup()
        await registry_runner.cleanup()
