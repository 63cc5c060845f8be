"""github:repo-info on real git repositories the test makes: a bare "remote" and a clone of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sidecar.errors import GitRepositoryError
from sidecar.github.repo import parse_remote_url
from tests.channels import Channels

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(folder: Path, name: str) -> None:
    (folder / name).write_text(name)
    git(folder, "add", name)
    git(folder, "commit", "-q", "-m", name)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a bare repository whose default branch is ``trunk``, its remote URL a GitHub one (the
    fetches still reach the bare repository through an ``insteadOf`` rewrite)."""
    bare = tmp_path / "remote" / "hello.git"
    bare.mkdir(parents=True)
    git(bare, "init", "-q", "--bare", "-b", "trunk")
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "trunk")
    commit(seed, "one")
    git(seed, "push", "-q", str(bare), "trunk")
    work = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], env=GIT_ENV, check=True)
    git(work, "config", "remote.origin.url", "git@github.com:octo/hello.git")
    git(work, "config", f"url.{bare}.insteadOf", "git@github.com:octo/hello.git")
    # The remote moves on by two commits; the clone makes one of its own.
    commit(seed, "two")
    commit(seed, "three")
    git(seed, "push", "-q", str(bare), "trunk")
    git(work, "fetch", "-q", "origin")
    commit(work, "mine")
    return work


async def test_repo_info_reads_owner_branches_and_ahead_behind(channels: Channels, clone: Path) -> None:
    (clone / "sub").mkdir()
    info = await channels("github:repo-info", str(clone / "sub"))
    assert info == {
        "path": str(clone / "sub"),
        "remote": "origin",
        "remoteUrl": "git@github.com:octo/hello.git",
        "host": "github.com",
        "owner": "octo",
        "name": "hello",
        "isGithub": True,
        "defaultBranch": "trunk",
        "currentBranch": "trunk",
        "upstream": "origin/trunk",
        "ahead": 1,
        "behind": 2,
    }


async def test_a_branch_without_upstream_and_a_detached_head(channels: Channels, clone: Path) -> None:
    git(clone, "checkout", "-q", "-b", "feature")
    info = await channels("github:repo-info", str(clone))
    assert (info["currentBranch"], info["defaultBranch"], info.get("ahead"), info.get("upstream")) == (
        "feature",
        "trunk",
        None,
        None,
    )
    git(clone, "checkout", "-q", "--detach")
    assert (await channels("github:repo-info", str(clone)))["currentBranch"] is None


async def test_not_a_repository_is_a_clear_error(channels: Channels, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitRepositoryError, match="not a git work tree"):
        await channels("github:repo-info", str(plain))
    with pytest.raises(GitRepositoryError, match="not a folder"):
        await channels("github:repo-info", str(tmp_path / "missing"))


async def test_unknown_remote_is_refused(channels: Channels, clone: Path) -> None:
    with pytest.raises(GitRepositoryError, match="no remote named upstream"):
        await channels("github:repo-info", str(clone), "upstream")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/octo/hello.git", ("github.com", "octo", "hello")),
        ("https://x-access-token:abc@github.com/octo/hello", ("github.com", "octo", "hello")),
        ("ssh://git@github.com:22/octo/hello.git", ("github.com", "octo", "hello")),
        ("git@github.com:octo/hello.git", ("github.com", "octo", "hello")),
        ("/srv/git/octo/hello.git", (None, "octo", "hello")),
        ("https://gitlab.example.com/group/sub/proj.git", ("gitlab.example.com", "sub", "proj")),
    ],
)
def test_remote_urls(url: str, expected: tuple[str | None, str | None, str | None]) -> None:
    assert parse_remote_url(url) == expected


async def test_a_token_in_the_remote_url_is_not_reported(channels: Channels, clone: Path) -> None:
    git(
        clone, "config", "remote.origin.url", "https://x-access-token:ghp_secret123@github.com/octo/hello.git"
    )
    info = await channels("github:repo-info", str(clone))
    assert info["remoteUrl"] == "https://github.com/octo/hello.git"
