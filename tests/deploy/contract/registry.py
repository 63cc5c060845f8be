"""A small OCI distribution server: blob uploads (monolithic), blobs and manifests by tag or digest, Basic
credentials. Enough for ``sidecar.deploy.image.push_image`` and the Fly contract server's pulls."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Registry:
    def __init__(self, username: str, password: str) -> None:
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], bytes] = {}
        self._uploads: set[str] = set()
        self.app = web.Application(middlewares=[self._check_auth])
        self.app.router.add_get("/v2/", self._root)
        self.app.router.add_get("/v2/{name:.+}/blobs/{digest}", self._get_blob)  # and HEAD
        self.app.router.add_post("/v2/{name:.+}/blobs/uploads/", self._start_upload)
        self.app.router.add_put("/v2/{name:.+}/blobs/uploads/{upload}", self._finish_upload)
        self.app.router.add_put("/v2/{name:.+}/manifests/{reference}", self._put_manifest)
        self.app.router.add_get("/v2/{name:.+}/manifests/{reference}", self._get_manifest)

    @web.middleware
    async def _check_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != self._auth:
            errors = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
            return web.json_response(errors, status=401, headers={"WWW-Authenticate": 'Basic realm="test"'})
        return await handler(request)

    async def _root(self, _request: web.Request) -> web.Response:
        return web.json_response({})

    async def _get_blob(self, request: web.Request) -> web.Response:
        data = self.blobs.get(request.match_info["digest"])
        if data is None:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        return web.Response(
            body=b"" if request.method == "HEAD" else data, headers={"Content-Length": str(len(data))}
        )

    async def _start_upload(self, request: web.Request) -> web.Response:
        upload = uuid.uuid4().hex
        self._uploads.add(upload)
        location = f"/v2/{request.match_info['name']}/blobs/uploads/{upload}"
        return web.Response(status=202, headers={"Location": location, "Docker-Upload-UUID": upload})

    async def _finish_upload(self, request: web.Request) -> web.Response:
        if request.match_info["upload"] not in self._uploads:
            return web.json_response({"errors": [{"code": "BLOB_UPLOAD_UNKNOWN"}]}, status=404)
        data = await request.read()
        digest = request.query.get("digest", "")
        if digest != "sha256:" + hashlib.sha256(data).hexdigest():
            return web.json_response({"errors": [{"code": "DIGEST_INVALID"}]}, status=400)
        self._uploads.discard(request.match_info["upload"])
        self.blobs[digest] = data
        return web.Response(status=201, headers={"Docker-Content-Digest": digest})

    async def _put_manifest(self, request: web.Request) -> web.Response:
        data = await request.read()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        name = request.match_info["name"]
        self.manifests[(name, request.match_info["reference"])] = data
        self.manifests[(name, digest)] = data
        return web.Response(status=201, headers={"Docker-Content-Digest": digest})

    async def _get_manifest(self, request: web.Request) -> web.Response:
        data = self.manifests.get((request.match_info["name"], request.match_info["reference"]))
        if data is None:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        return web.Response(body=data, content_type="application/vnd.oci.image.manifest.v1+json")
