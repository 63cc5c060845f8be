"""The first AI call imports the SDK and LangGraph in a worker thread, never on the event loop.

Those imports take a second or more of CPU; on the loop they held every other request of the process
(``loop_lag`` in the demo). Checked in a fresh interpreter, where nothing is imported yet: a finder
first on ``sys.meta_path`` notes the thread each module is imported on while a Claude call and an agent
turn are made against the local stand-in model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

WATCHED = ("anthropic", "langgraph.graph", "langgraph.checkpoint.sqlite.aio")

SCRIPT = """
import asyncio, json, sys, threading
from pathlib import Path

WATCHED = set(json.loads(sys.argv[1]))
imported_on = {}

class Noting:  # first on sys.meta_path: asked about each module not imported yet, on the importing thread

    def find_spec(self, name, path=None, target=None):
        if name in WATCHED:
            imported_on.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Noting())

from sidecar.ai import agent, chat
from tests.ai.vendor_servers import Reply, vendor_server


class Port:
    data_dir = Path(sys.argv[2])

    async def call_function(self, name, body):
        return 200, "[]"


async def main():
    loop_thread = threading.current_thread().name
    async with vendor_server() as vendor:
        vendor.script(Reply(text="hello"), Reply(text="hello again"))
        request = chat.ChatRequest(
            provider="anthropic", model="claude-test", messages=[{"role": "user", "content": "hi"}],
            api_key="sk-ant-test", base_url=vendor.root_url,
        )
        first = await chat.complete(request)
        turn = await agent.run_turn(Port(), request, "hi", "thread-1", 2, lambda call: None)
    print(json.dumps({"loop": loop_thread, "imported_on": imported_on, "answers": [first.text, turn.text]}))

asyncio.run(main())
"""


def test_the_first_claude_call_and_agent_turn_import_their_libraries_off_the_loop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(WATCHED), str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["answers"] == ["hello", "hello again"]
    assert set(report["imported_on"]) == set(WATCHED), report
    on_loop = [name for name, thread in report["imported_on"].items() if thread == report["loop"]]
    assert on_loop == [], f"imported on the event loop's thread: {on_loop}"
