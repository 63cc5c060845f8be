"""Repository facts of a project folder, read with the git CLI: remote owner and name, default and current
branch, and how far the current branch is ahead of / behind its upstream.

Nothing here reaches the network: the default branch is the remote's ``HEAD`` as the last clone or fetch
recorded it (``refs/remotes/<remote>/HEAD``), and ahead/behind compare against the local tracking ref.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import GitRepositoryError

_GIT_TIMEOUT_S = 10.0
_SCP_URL = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^@/]+@", re.I)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)$", re.I)


@dataclass(frozen=True)
class RepoInfo:
    path: str
    remote: str | None
    remote_url: str | None
    host: str | None
    owner: str | None
    name: str | None
    is_github: bool
    default_branch: str | None
    current_branch: str | None
    """``None`` on a detached HEAD."""
    upstream: str | None
    ahead: int | None
    behind: int | None


def parse_remote_url(url: str) -> tuple[str | None, str | None, str | None]:
    """``(host, owner, name)`` of an https, ssh or scp-like remote URL; a local path has no host."""
    text = url.strip()
    match = _URL.match(text)
    if match is None and "://" not in text:
        match = _SCP_URL.match(text)
    host = match.group("host").lower() if match else None
    path = match.group("path") if match else text
    parts = [part for part in path.rstrip("/").split("/") if part]
    if len(parts) < 2:
        return host, None, None
    name = parts[-1][:-4] if parts[-1].endswith(".git") else parts[-1]
    return host, parts[-2], name


async def _git(folder: Path, *args: str) -> tuple[int, str]:
    """Exit code and stripped stdout of ``git -C folder args``; stderr is dropped (it is for people)."""
    process = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(folder),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), _GIT_TIMEOUT_S)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise GitRepositoryError(f"git {' '.join(args)} took longer than {_GIT_TIMEOUT_S:g} s") from exc
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8", "replace").strip()


async def _value(folder: Path, *args: str) -> str | None:
    code, out = await _git(folder, *args)
    return out if code == 0 and out else None


async def read_repo_info(folder: Path, remote: str | None = None) -> RepoInfo:
    """What the GitHub panel shows about ``folder``'s repository; ``remote`` defaults to the current
    branch's remote, then ``origin``, then the first one."""
    if shutil.which("git") is None:
        raise GitRepositoryError("git is not installed (or not on PATH)")
    if not await asyncio.to_thread(folder.is_dir):
        raise GitRepositoryError(f"not a folder: {folder}", data={"path": str(folder)})
    if await _value(folder, "rev-parse", "--is-inside-work-tree") != "true":
        raise GitRepositoryError(f"not a git work tree: {folder}", data={"path": str(folder)})
    current = await _value(folder, "symbolic-ref", "--short", "-q", "HEAD")
    remotes = (await _value(folder, "remote") or "").split()
    chosen = remote
    if chosen is None and current is not None:
        chosen = await _value(folder, "config", "--get", f"branch.{current}.remote")
    if chosen is None:
        chosen = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
    if chosen is not None and chosen not in remotes:
        raise GitRepositoryError(f"no remote named {chosen} in {folder}", data={"remote": chosen})
    # The configured URL, not `git remote get-url`: that one applies insteadOf rewrites.
    url = await _value(folder, "config", "--get", f"remote.{chosen}.url") if chosen else None
    host, owner, name = parse_remote_url(url) if url else (None, None, None)
    default = None
    if chosen is not None:
        head = await _value(folder, "symbolic-ref", "--short", "-q", f"refs/remotes/{chosen}/HEAD")
        default = head.split("/", 1)[1] if head and "/" in head else head
    upstream = await _value(folder, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    ahead = behind = None
    if upstream is not None:
        counts = await _value(folder, "rev-list", "--left-right", "--count", "HEAD...@{upstream}")
        if counts is not None:
            left, right = counts.split()
            ahead, behind = int(left), int(right)
    return RepoInfo(
        path=str(folder),
        remote=chosen,
        remote_url=_URL_USERINFO.sub(r"\1", url) if url else None,  # a token in the URL stays put
        host=host,
        owner=owner,
        name=name,
        is_github=host == "github.com",
        default_branch=default,
        current_branch=current,
        upstream=upstream,
        ahead=ahead,
        behind=behind,
    )
