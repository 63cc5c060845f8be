"""A project folder's GitHub repository, read from git itself (the ``git`` CLI, never parsed files)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError

_REMOTE = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com/|git@github\.com:)"
    r"(?P<owner>[A-Za-z0-9-]+)/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$"
)


def parse_remote(url: str) -> tuple[str, str] | None:
    """``(owner, name)`` of a github.com remote URL (https, ssh or scp-like); None for any other host."""
    found = _REMOTE.match(url.strip())
    return (found["owner"], found["name"]) if found else None


async def _git(folder: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(folder),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode("utf-8", "replace").strip()


async def repo_info(folder: Path, remote: str = "origin") -> dict[str, Any]:
    """Owner, name, default and current branch, and commits ahead/behind the upstream (None if none)."""
    code, inside = await _git(folder, "rev-parse", "--is-inside-work-tree")
    if code != 0 or inside != "true":
        raise InvalidParamsError(f"{folder} is not inside a git repository")
    code, url = await _git(folder, "remote", "get-url", remote)
    parsed = parse_remote(url) if code == 0 else None
    _, branch = await _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    code, head = await _git(folder, "symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD")
    default = head.split("/", 1)[1] if code == 0 and "/" in head else None
    ahead = behind = None
    code, counts = await _git(folder, "rev-list", "--left-right", "--count", "HEAD...@{upstream}")
    if code == 0 and len(counts.split()) == 2:
        ahead, behind = (int(part) for part in counts.split())
    return {
        "remote": remote,
        "remoteUrl": url if parsed else None,
        "owner": parsed[0] if parsed else None,
        "name": parsed[1] if parsed else None,
        "isGitHub": parsed is not None,
        "currentBranch": branch or None,
        "defaultBranch": default,
        "ahead": ahead,
        "behind": behind,
    }
