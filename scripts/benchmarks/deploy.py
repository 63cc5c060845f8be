"""Deploy suite: the whole flow (validate → build → push → release → health → record) of the demo
backend against the local Fly contract server and registry, with each stage's seconds."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the "_" helper modules beside the suites

from _deploy_demo import deploy_demo


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="noodl-bench-deploy-") as scratch:
        figures = asyncio.run(deploy_demo(Path(scratch), say=lambda _text: None))
    figures.pop("function_result", None)
    figures["targets"] = {"whole_flow_s": 60}
    return figures
