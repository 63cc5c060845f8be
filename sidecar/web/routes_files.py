"""Files: upload as raw bytes (REST, Noodl) or as the SDK's JSON form
(``{base64, _ContentType, ...}`` posted as ``text/plain``), download without credentials, delete as master."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from aiohttp import web

from sidecar.errors import FileSaveError, InvalidFileNameError, InvalidJsonError, ObjectNotFoundError
from sidecar.web.filestore import FileStore
from sidecar.web.router import Access, Call, Route
from sidecar.web.wire import Reply


def _files(call: Call) -> FileStore:
    if call.services.files is None:
        raise FileSaveError("File storage is not configured for this backend.")
    return call.services.files


def _upload_bytes(call: Call) -> bytes:
    """The SDK form carries ``base64`` in a JSON body (its credentials were lifted out already)."""
    if "base64" not in call.params:
        return call.raw
    encoded = call.params["base64"]
    if not isinstance(encoded, str):
        raise InvalidJsonError("base64 must be a string")
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidJsonError("base64 is not valid") from exc


def file_url(call: Call, name: str) -> str:
    return f"{call.base_url}/files/{quote(call.services.settings.app_id)}/{quote(name)}"


async def upload(call: Call) -> Reply:
    content_type = call.content_type or None
    name = await _files(call).save(call.args["name"], _upload_bytes(call), content_type)
    url = file_url(call, name)
    return Reply({"url": url, "name": name}, 201, {"Location": url})


async def upload_without_name(call: Call) -> Reply:
    raise InvalidFileNameError("Filename not provided.")


async def delete(call: Call) -> Reply:
    await _files(call).delete(call.args["name"])
    return Reply({})


_DOCUMENT_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/xml", "application/xml", "image/svg+xml"}
)
"""Types a browser runs as a page, scripts included, when opened from the URL."""


def download_headers(content_type: str) -> dict[str, str]:
    """Anyone with the application id may upload, and a file is served from the backend's own origin
    (where the dashboard's session cookie lives), so an uploaded page must never run there: a document
    type is a sandboxed download, and no type is sniffed into one."""
    headers = {"Content-Type": content_type, "X-Content-Type-Options": "nosniff"}
    if content_type in _DOCUMENT_TYPES or content_type.endswith("+xml"):
        headers["Content-Disposition"] = "attachment"
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return headers


def download_response(files: FileStore | None, name: str) -> web.StreamResponse:
    """Bytes with a content type guessed from the name; a missing file is a plain-text 404."""
    if files is None:
        return web.Response(status=404, text="File not found.")
    try:
        stored = files.find(name)
    except ObjectNotFoundError:
        return web.Response(status=404, text="File not found.")
    return web.FileResponse(stored.path, headers=download_headers(stored.content_type))


ROUTES: list[Route] = [
    Route("POST", "/files/:name", upload),
    Route("POST", "/files", upload_without_name),
    Route("DELETE", "/files/:name", delete, Access.MASTER),
]
