"""Conversations by ``threadId`` in the backend's ``ai/memory.sqlite``: append turns, read a window.

A window keeps the newest messages that fit both limits (a message count and an estimated token
count, four characters a token, as the vendors' own rule of thumb), oldest first, and never starts
with a tool result whose call was cut off.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from sidecar.ai.sqlite_file import session

MAX_THREAD_ID_CHARS = 200
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_messages (
    thread_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;
"""


def estimated_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    return max(1, (len(text) + 3) // 4)


class ChatMemory:
    def __init__(self, folder: Path) -> None:
        self._path = folder / "memory.sqlite"
        self._lock = threading.Lock()

    async def append(self, thread_id: str, messages: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._append, thread_id, messages)

    async def window(self, thread_id: str, max_messages: int, max_tokens: int | None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._window, thread_id, max_messages, max_tokens)

    async def clear(self, thread_id: str) -> int:
        return await asyncio.to_thread(self._clear, thread_id)

    def _append(self, thread_id: str, messages: list[dict[str, Any]]) -> None:
        with self._lock, session(self._path, _SCHEMA) as connection:
            row = connection.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            now = time.time()
            connection.executemany(
                "INSERT INTO chat_messages VALUES (?, ?, ?, ?, ?)",
                [
                    (thread_id, row[0] + index, json.dumps(message), estimated_tokens(message), now)
                    for index, message in enumerate(messages, start=1)
                ],
            )

    def _window(self, thread_id: str, max_messages: int, max_tokens: int | None) -> list[dict[str, Any]]:
        with self._lock, session(self._path, _SCHEMA) as connection:
            rows = connection.execute(
                "SELECT message, tokens FROM chat_messages WHERE thread_id = ? ORDER BY seq DESC LIMIT ?",
                (thread_id, max_messages),
            ).fetchall()
        kept: list[dict[str, Any]] = []
        total = 0
        for text, tokens in rows:
            if max_tokens is not None and total + tokens > max_tokens:
                break
            total += tokens
            kept.append(json.loads(text))
        kept.reverse()
        while kept and kept[0].get("role") == "tool":
            kept.pop(0)  # its tool call fell out of the window: vendors refuse a result without its call
        return kept

    def _clear(self, thread_id: str) -> int:
        with self._lock, session(self._path, _SCHEMA) as connection:
            return connection.execute("DELETE FROM chat_messages WHERE thread_id = ?", (thread_id,)).rowcount
