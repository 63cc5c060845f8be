"""A bare msgpack-RPC echo over the sidecar's own transport, without the session layer.

The IPC bench compares the real sidecar against this to show what the session costs.
Run as a script: ``python scripts/benchmarks/bare_echo_server.py`` (not a suite).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from sidecar.ipc.stdout_guard import claim_stdio


async def serve(read_fd: int, write_fd: int) -> None:
    from sidecar.ipc.envelope import FrameEncoder
    from sidecar.ipc.framing import FrameDecoder
    from sidecar.ipc.transport import FrameWriter, StreamCallbacks, open_pipes

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    writer = FrameWriter(loop)
    encoder = FrameEncoder()

    def receive(message: Any) -> None:
        writer.write(encoder.response(message[1], None, None))

    def finish(*_args: Any) -> None:
        if not done.done():
            done.set_result(None)

    await open_pipes(read_fd, write_fd, writer, FrameDecoder(), StreamCallbacks(receive, finish, finish))
    await done


if __name__ == "__main__":
    asyncio.run(serve(*claim_stdio()))
