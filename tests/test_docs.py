"""The documentation tells the truth: its generated parts match the code, and every shell block
in README.md and docs/*.md runs (or, where running it here is impossible, is checked).

A ```sh block runs as printed, from the repository root, with ``.venv/bin`` first on PATH and
``NOODL_HOME`` in a temporary folder, after two substitutions: the docs' example folder
``/tmp/noodl-docs`` becomes a temporary folder and their example port 8578 a free port. The
comment line right before a block may say how to treat it:

- ``<!-- doc-test: server READY-TEXT -->``: a long-running server: started before the file's
  other blocks, ready once READY-TEXT appears on its stdout, stopped at the end;
- ``<!-- doc-test: synopsis -->``: command synopses: every ``--option`` is in the command's help;
- ``<!-- doc-test: skip REASON -->``: not run here (REASON says what runs it); every command it
  names must exist.

All other blocks of a file run in order in one shell with ``set -euo pipefail``, so variables set
in one block serve the next ones.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar import docgen

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_DIR = "/tmp/noodl-docs"
EXAMPLE_PORT = "8578"
_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!-- doc-test: (\w+)\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    kind: str
    arg: str
    text: str

    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        directive = _DIRECTIVE.match(previous.strip())
        kind, arg = (directive[1], directive[2]) if directive else ("run", "")
        text = "\n".join(lines[start + 1 : end]) + "\n"
        found.append(Block(path, start + 1, fence[1], kind, arg, text))
        index = end + 1
    return found


def shell_blocks(path: Path) -> list[Block]:
    return [block for block in code_blocks(path) if block.lang == "sh"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    home = tmp / "home"  # a documented command may write under ~ (the README's PATH example links into it)
    home.mkdir(exist_ok=True)
    tools = [REPO / ".venv" / "bin", Path(sys.executable).parent, home / ".local" / "bin"]
    paths = [*(str(tool) for tool in tools), env["PATH"]]
    env["PATH"] = os.pathsep.join(paths)
    env["HOME"] = str(home)
    env["NOODL_HOME"] = str(tmp / "noodl-home")
    env.pop("NOODL_SIDECAR_DIAGNOSTICS", None)
    return env


def _sidecar_command() -> list[str]:
    script = REPO / ".venv" / "bin" / "noodl-sidecar"
    return [str(script), "stdio"] if script.exists() else [sys.executable, "-m", "sidecar", "stdio"]


# ---- generated sections ---------------------------------------------------------------


def test_generated_sections_match_the_code() -> None:
    assert docgen.stale_files() == [], "generated docs are stale: run scripts/gen-docs"


def test_every_generated_section_has_its_markers(tmp_path: Path) -> None:
    """A stale section is detected (not silently passed) and rewritten by the generator."""
    for filename in {filename for filename, _build in docgen.SECTIONS.values()}:
        text = (docgen.DOCS_DIR / filename).read_text(encoding="utf-8")
        stale = re.sub(r"(<!-- BEGIN GENERATED: [^\n]*-->\n)", r"\1| stale row |\n", text)
        assert stale != text
        (tmp_path / filename).write_text(stale, encoding="utf-8")
    assert sorted(docgen.stale_files(tmp_path)) == sorted({f for f, _b in docgen.SECTIONS.values()})


def test_method_table_lists_every_method_the_sidecar_answers() -> None:
    from ipc_schema.catalog import METHODS

    text = (docgen.DOCS_DIR / "protocol.md").read_text(encoding="utf-8")
    for spec in METHODS:
        assert f"| `{spec.name}` |" in text, spec.name


def test_every_doc_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for path in sorted((REPO / "docs").glob("*.md")):
        assert f"docs/{path.name}" in readme, f"README.md does not link docs/{path.name}"


# ---- shell blocks ---------------------------------------------------------------------


def _substitute(text: str, tmp: Path, port: int) -> str:
    return text.replace(EXAMPLE_DIR, str(tmp / "noodl-docs")).replace(EXAMPLE_PORT, str(port))


def _start_server(block: Block, command: str, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    ready = block.arg
    assert ready, f"{block.where()}: a server block names the text that says it is ready"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            ["bash", "-c", "exec " + command.strip()],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if ready in line or not line:
            break
    if ready not in line:
        _stop(process)
        pytest.fail(f"{block.where()}: no {ready!r} line; stderr: {log.read_text()[-2000:]}")
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _check_synopsis(block: Block, env: dict[str, str]) -> None:
    for line in block.text.splitlines():
        words = line.split()
        if words[:1] == ["noodl-sidecar"]:
            command = words[1]
            help_text = subprocess.run(
                ["noodl-sidecar", command, "--help"], env=env, capture_output=True, text=True, timeout=60
            )
            text = help_text.stdout + help_text.stderr
        for option in re.findall(r"(--[a-z][a-z-]*)", line):
            assert option in text, f"{block.where()}: `noodl-sidecar {command}` has no {option}"


def _check_commands_exist(block: Block, env: dict[str, str]) -> None:
    assert block.arg, f"{block.where()}: a skipped block says what runs it instead"
    for line in block.text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        program = words[0]
        if "/" in program:
            assert os.access(REPO / program, os.X_OK), f"{block.where()}: {program} is not executable"
        else:
            assert shutil.which(program, path=env["PATH"]), f"{block.where()}: {program} not on PATH"


FILES_WITH_SHELL = [path for path in DOC_FILES if shell_blocks(path)]


@pytest.mark.parametrize("path", FILES_WITH_SHELL, ids=[p.name for p in FILES_WITH_SHELL])
def test_shell_blocks_run_as_printed(path: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    port = _free_port()
    servers: list[subprocess.Popen[str]] = []
    script = ["set -euo pipefail"]
    try:
        for number, block in enumerate(shell_blocks(path)):
            command = _substitute(block.text, tmp_path, port)
            if block.kind == "server":
                servers.append(_start_server(block, command, env, tmp_path / f"server-{number}.log"))
            elif block.kind == "synopsis":
                _check_synopsis(block, env)
            elif block.kind == "skip":
                _check_commands_exist(block, env)
            else:
                assert block.kind == "run", f"{block.where()}: unknown doc-test kind {block.kind!r}"
                script += [f"echo '>>> {block.where()}' >&2", command]
        if len(script) > 1:
            result = subprocess.run(
                ["bash", "-c", "\n".join(script)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
            output = f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
            assert result.returncode == 0, f"exit {result.returncode}\n{output}"
    finally:
        for server in servers:
            _stop(server)


@pytest.mark.slow
def test_readme_demo_runs(tmp_path: Path) -> None:
    """The README's first command (its second, scripts/test, is the suite this test is part of)."""
    result = subprocess.run(
        ["scripts/demo"], cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "functions/hello" in result.stdout
    assert "functions/todo-report → 200" in result.stdout  # the Python example workflow answered


# ---- the minimal clients of protocol.md -------------------------------------------------


def _client_source(lang: str) -> str:
    blocks = [block for block in code_blocks(REPO / "docs" / "protocol.md") if block.lang == lang]
    assert len(blocks) == 1, f"protocol.md has one {lang} client"
    return blocks[0].text


def test_python_client_talks_to_the_real_sidecar(tmp_path: Path) -> None:
    client = tmp_path / "client.py"
    client.write_text(_client_source("python"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(client), *_sidecar_command()],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "connected to noodl-sidecar" in result.stdout
    assert "backends: []" in result.stdout


@pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "tests" / "js" / "node_modules" / "msgpackr").exists(),
    reason="needs Node.js and the npm packages of tests/js (scripts/setup installs them)",
)
def test_node_client_talks_to_the_real_sidecar(tmp_path: Path) -> None:
    from sidecar.runtime.library import node_library

    result = subprocess.run(
        ["node", "--input-type=module", "-", *_sidecar_command()],
        input=_client_source("js"),
        cwd=REPO / "tests" / "js",  # where msgpackr is installed
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "connected to noodl-sidecar" in result.stdout
    assert f"node types: {len(node_library())}" in result.stdout
