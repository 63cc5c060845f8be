"""The repository stands alone: nothing in it reads or cites the steering repository beside it.

A plain clone must test, bench and document itself; recorded data it needs lives in tests/fixtures.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT_ROOT

CHECKED = ("sidecar", "ipc_schema", "runtimes", "tests", "scripts", "docs", "examples", "packaging", ".ci")
TEXT_SUFFIXES = {".py", ".mjs", ".js", ".md", ".json", ".toml", ".sh", ".txt", ".spec", ""}
# Spelled in pieces so that this file does not match itself.
SIBLING = "../" + "shared"
STEERING_PATHS = tuple(f"shared/{part}" for part in ("spec", "design", "conformance", "hooks"))


def _project_files() -> list[Path]:
    files = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "pyproject.toml"]
    for folder in CHECKED:
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if "node_modules" in path.parts or "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix in TEXT_SUFFIXES:
                files.append(path)
    return files


def test_no_file_refers_to_the_steering_repository() -> None:
    offenders = []
    for path in _project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if SIBLING in text or any(steering in text for steering in STEERING_PATHS):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []


def test_the_recorded_cases_and_their_exports_are_in_the_repository() -> None:
    fixtures = PROJECT_ROOT / "tests" / "fixtures"
    assert (fixtures / "cloudrunner" / "cases.jsonl").is_file()
    assert (fixtures / "cloud-nodelib.json").is_file()
    notes = (fixtures / "README.md").read_text(encoding="utf-8")
    data_files = [p for p in fixtures.rglob("*") if p.is_file() and p.name != "README.md"]
    unnoted = [p.name for p in data_files if p.parent.name != "exports" and p.name not in notes]
    assert unnoted == []  # every data file has its origin noted
