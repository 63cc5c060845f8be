"""Uploaded files on disk: Parse's name rules, a random prefix per upload, and
write-then-rename so a half-written file is never served."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import FileSaveError, InvalidFileNameError, ObjectNotFoundError
from sidecar.private_files import private_dir, write_private_bytes

_NAME_RE = re.compile(r"^[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*$")
_MAX_NAME = 128
_MAX_STORED_NAME = 255
"""No stored name is longer (32 hex + ``_`` + 128 + an extension), and the file system refuses longer ones."""


@dataclass(frozen=True)
class StoredFile:
    path: Path
    content_type: str


def check_file_name(name: str) -> None:
    if not name:
        raise InvalidFileNameError("Filename not provided.")
    if len(name) > _MAX_NAME:
        raise InvalidFileNameError("Filename too long.")
    if not _NAME_RE.match(name):
        raise InvalidFileNameError("Filename contains invalid characters.")


def stored_name(name: str, content_type: str | None) -> str:
    """``<32 hex>_<name>``; a name without an extension gets one from the content type."""
    if "." not in name and content_type:
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if extension:
            name += extension
    return f"{secrets.token_hex(16)}_{name}"


class FileStore:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def save(self, name: str, data: bytes, content_type: str | None) -> str:
        check_file_name(name)
        final = stored_name(name, content_type)
        try:
            await asyncio.to_thread(self._write, final, data)
        except OSError as exc:
            raise FileSaveError(f"Could not store file: {exc.strerror}") from exc
        return final

    def _write(self, name: str, data: bytes) -> None:
        private_dir(self._directory)
        temporary = self._directory / f".{name}.part"
        write_private_bytes(temporary, data)
        os.replace(temporary, self._directory / name)

    def find(self, name: str) -> StoredFile:
        path = self._path(name)
        if not path.is_file():
            raise ObjectNotFoundError("File not found.")
        guessed, _ = mimetypes.guess_type(name)
        return StoredFile(path, guessed or "application/octet-stream")

    async def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError("File not found.") from exc

    def _path(self, name: str) -> Path:
        """Only plain names inside the directory: a path with separators or dots-only never resolves, nor
        does a name no upload can have (a NUL, too long), which the OS would refuse with an error."""
        if (
            not name
            or "/" in name
            or "\\" in name
            or "\x00" in name
            or name.startswith(".")
            or len(name.encode()) > _MAX_STORED_NAME
        ):
            raise ObjectNotFoundError("File not found.")
        return self._directory / name
