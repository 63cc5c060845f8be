"""The README's way of putting ``noodl-sidecar`` on PATH works, run as written in a clean shell."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sidecar import __version__
from tests.conftest import PROJECT_ROOT

HEADING = "### Putting `noodl-sidecar` on PATH"


def _path_block() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(HEADING) :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_documented_commands_put_the_program_on_path(tmp_path: Path) -> None:
    block = _path_block()
    # A user's shell: no venv active, ~/.local/bin on PATH (as most distributions set it up).
    env = {"HOME": str(tmp_path), "PATH": f"{tmp_path}/.local/bin:/usr/local/bin:/usr/bin:/bin"}

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"noodl-sidecar {__version__}"] * 2
    assert (tmp_path / ".local" / "bin" / "noodl-sidecar").resolve() == (
        PROJECT_ROOT / ".venv" / "bin" / "noodl-sidecar"
    ).resolve()


def test_without_them_the_program_is_not_on_path(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    command = ["bash", "-c", "command -v noodl-sidecar"]
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    assert done.returncode != 0, "the test above would prove nothing"
