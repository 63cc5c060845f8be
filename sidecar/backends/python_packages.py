"""A backend's own Python packages: ``python/requirements.txt`` installed into ``python-packages``.

pip installs with ``--target`` into a fresh folder beside the current one, which replaces it only
when pip succeeded: a failed install leaves the packages the workers import untouched. Nothing goes
into the sidecar's environment. The backend's workers put ``python-packages`` first on ``sys.path``
(``PythonPool(import_paths=...)``); after an install the pool retires its workers so the next call
imports the new versions. pip's whole output is kept in ``python-install.log`` in the data folder.

pip is run by this interpreter (``-m pip``) from source; the PyInstaller binary has no pip, so it
runs the first ``python3`` on ``PATH`` (the packages must then suit that Python's version).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from sidecar.errors import InvalidParamsError

log = structlog.get_logger()

PACKAGES_DIR = "python-packages"
LOG_FILE = "python-install.log"


@dataclass(frozen=True, slots=True)
class InstallResult:
    ok: bool
    target: Path
    log_file: Path
    exit_code: int
    packages: list[str]


def _pip_command() -> list[str]:
    if getattr(sys, "frozen", False):
        python = shutil.which("python3") or shutil.which("python")
        if python is None:
            raise InvalidParamsError("no Python with pip on PATH to install packages with")
        return [python, "-m", "pip"]
    return [sys.executable, "-m", "pip"]


def installed_packages(target: Path) -> list[str]:
    """``name==version`` of each distribution in ``target`` (read from its ``*.dist-info`` folders)."""
    found = []
    for info in sorted(target.glob("*.dist-info")) if target.is_dir() else []:
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found.append(f"{name}=={version}")
    return found


async def install_requirements(data_dir: Path, on_line: Callable[[str], None] | None = None) -> InstallResult:
    """Install ``<data_dir>/python/requirements.txt``; ``on_line`` hears each line pip writes."""
    requirements = data_dir / "python" / "requirements.txt"
    if not requirements.is_file():
        raise InvalidParamsError(f"no python/requirements.txt in the backend ({requirements})")
    target = data_dir / PACKAGES_DIR
    staging = data_dir / (PACKAGES_DIR + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    log_path = data_dir / LOG_FILE
    command = [
        *_pip_command(),
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--target",
        str(staging),
        "--requirement",
        str(requirements),
    ]
    env = {**os.environ, "PYTHONNOUSERSITE": "1", "PIP_NO_INPUT": "1"}
    env.pop("PYTHONPATH", None)
    with log_path.open("w", encoding="utf-8") as log_file:
        log_file.write("$ " + " ".join(command) + "\n")
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=data_dir,
            env=env,
        )
        assert process.stdout is not None
        while raw := await process.stdout.readline():
            line = raw.decode("utf-8", "replace").rstrip()
            log_file.write(line + "\n")
            log_file.flush()
            if on_line is not None and line.strip():
                on_line(line.strip())
        code = await process.wait()
        log_file.write(f"exit status {code}\n")
    if code == 0:
        retired = data_dir / (PACKAGES_DIR + ".old")
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("python packages installed" if code == 0 else "python package install failed", exit_code=code)
    return InstallResult(code == 0, target, log_path, code, installed_packages(target))
