"""A minimal SSE reader for tests: frames split on blank lines, ``:`` comment lines kept apart."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse


@dataclass(frozen=True)
class SseFrame:
    event: str
    data: Any
    frame_id: int | None
    comment: str | None = None


class SseReader:
    def __init__(self, response: ClientResponse) -> None:
        self.response = response

    async def next(self, wait_seconds: float = 2.0) -> SseFrame:
        async with asyncio.timeout(wait_seconds):
            return await self._read_frame()

    async def next_event(self, wait_seconds: float = 2.0) -> SseFrame:
        """The next frame that is not a heartbeat comment."""
        while True:
            frame = await self.next(wait_seconds)
            if frame.comment is None:
                return frame

    async def _read_frame(self) -> SseFrame:
        fields: dict[str, str] = {}
        comment: str | None = None
        while True:
            line = (await self.response.content.readline()).decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if line == "":
                if fields or comment is not None:
                    break
                continue
            if line.startswith(":"):
                comment = line[1:].strip()
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        frame_id = int(fields["id"]) if "id" in fields else None
        data = json.loads(fields["data"]) if "data" in fields else None
        return SseFrame(fields.get("event", ""), data, frame_id, comment)
