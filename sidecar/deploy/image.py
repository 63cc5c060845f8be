"""The image a deploy pushes, and the push itself (OCI distribution API).

Without a container engine (this machine has none) the build stage makes the *application layer* as an
OCI image: one gzip layer holding the build context at ``/app`` (``bin/``, ``src/``, ``bundle/``,
``Dockerfile``), and an image config whose ``Cmd``, ``User``, ``Env``, ``Volumes`` and ``Healthcheck``
repeat the Dockerfile's. It is byte-for-byte reproducible (sorted entries, zero times and owners), so the
same bundle gives the same digest. It is not a runnable root filesystem on its own: a platform that runs
images needs the Python base layers under it, which ``noodl-sidecar deploy --provider docker --build``
makes through an engine. The tests' contract servers run it by unpacking the layer and starting
``/app/bin/start`` with the host's Python, as the container test does.

:func:`push_image` uploads blobs then the manifest (``POST``/``PUT`` monolithic uploads, ``HEAD`` to skip a
blob the registry has), with Basic credentials, or the Bearer token the registry's
``WWW-Authenticate`` realm hands out for them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

from sidecar.deploy.context import CONTAINER_PORT, USER_ID, BuildContext
from sidecar.errors import DeployError

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class AppImage:
    config: Blob
    layer: Blob
    bundle_hash: str

    @property
    def manifest(self) -> bytes:
        document = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": self.config.descriptor(),
            "layers": [self.layer.descriptor()],
            "annotations": {"dev.noodl.bundle-hash": self.bundle_hash},
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def size_bytes(self) -> int:
        return len(self.config.data) + len(self.layer.data) + len(self.manifest)


def tag_for(bundle_hash: str) -> str:
    return "noodl-" + bundle_hash.removeprefix("sha256:")[:16]


def build_app_image(context: BuildContext) -> AppImage:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(context.folder.rglob("*")):
            relative = path.relative_to(context.folder)
            info = tar.gettarinfo(str(path), arcname=str(Path("app") / relative))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    tar_bytes = raw.getvalue()
    layer = Blob(LAYER_TYPE, gzip.compress(tar_bytes, mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": f"{USER_ID}:{USER_ID}",
            "Env": [
                "NOODL_DATA_DIR=/data",
                "NOODL_BUNDLE_DIR=/app/bundle",
                "NOODL_HOST=0.0.0.0",
                f"PORT={CONTAINER_PORT}",
            ],
            "Cmd": ["/app/bin/start"],
            "WorkingDir": "/app",
            "ExposedPorts": {f"{CONTAINER_PORT}/tcp": {}},
            "Volumes": {"/data": {}},
            "StopSignal": "SIGTERM",
            "Healthcheck": {"Test": ["CMD", "/app/bin/healthcheck"], "Interval": 15_000_000_000},
            "Labels": {"dev.noodl.bundle-hash": context.bundle_hash},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
    }
    config_blob = Blob(CONFIG_TYPE, json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    return AppImage(config_blob, layer, context.bundle_hash)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def split_reference(reference: str) -> tuple[str, str, str]:
    """``registry/name:tag`` → ``(registry, name, tag)``."""
    registry, _, rest = reference.partition("/")
    name, _, tag = rest.rpartition(":")
    if not registry or not name or not tag:
        raise DeployError(f"image reference {reference!r} is not registry/name:tag")
    return registry, name, tag


def registry_url(registry: str) -> str:
    host = registry.split(":")[0]
    scheme = "http" if host in ("localhost", "127.0.0.1", "::1") else "https"
    return f"{scheme}://{registry}"


async def push_image(image: AppImage, reference: str, login: tuple[str, str]) -> str:
    """Push ``image`` as ``reference``; answers the manifest digest the registry stored."""
    registry, name, tag = split_reference(reference)
    base = registry_url(registry)
    auth = basic_auth(*login)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        headers = await _authorize(http, base, name, auth)
        for blob in (image.layer, image.config):
            async with http.head(f"{base}/v2/{name}/blobs/{blob.digest}", headers=headers) as probe:
                if probe.status == 200:
                    continue
            async with http.post(f"{base}/v2/{name}/blobs/uploads/", headers=headers) as started:
                await _expect(started, 202, "start a blob upload")
                location = urljoin(f"{base}/", started.headers.get("Location", ""))
            joiner = "&" if "?" in location else "?"
            upload = {**headers, "Content-Type": "application/octet-stream"}
            async with http.put(
                f"{location}{joiner}digest={blob.digest}", data=blob.data, headers=upload
            ) as done:
                await _expect(done, 201, f"upload blob {blob.digest}")
        put = {**headers, "Content-Type": MANIFEST_TYPE}
        async with http.put(f"{base}/v2/{name}/manifests/{tag}", data=image.manifest, headers=put) as stored:
            await _expect(stored, 201, "store the manifest")
            return stored.headers.get("Docker-Content-Digest", image.digest)


async def _authorize(http: aiohttp.ClientSession, base: str, name: str, auth: str) -> dict[str, str]:
    async with http.get(f"{base}/v2/") as probe:
        if probe.status == 200:
            return {}
        challenge = probe.headers.get("WWW-Authenticate", "")
    if challenge.lower().startswith("basic") or not challenge:
        return {"Authorization": auth}
    fields = dict(
        part.split("=", 1) for part in challenge.split(" ", 1)[1].replace('"', "").split(",") if "=" in part
    )
    params = {"service": fields.get("service", ""), "scope": f"repository:{name}:push,pull"}
    async with http.get(fields.get("realm", ""), params=params, headers={"Authorization": auth}) as granted:
        await _expect(granted, 200, "get a registry token")
        token = (await granted.json()).get("token")
    return {"Authorization": f"Bearer {token}"}


async def _expect(reply: aiohttp.ClientResponse, status: int, what: str) -> None:
    if reply.status != status:
        text = (await reply.text())[:300]
        raise DeployError(f"the registry refused to {what}: {reply.status} {text}")
