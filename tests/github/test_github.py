"""The github:* channels against a local contract server written from GitHub's REST reference."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sidecar.backends.manager import BackendManager
from sidecar.github.api import DeviceFlowError, poll_device_flow
from sidecar.ipc.handlers import register_github_methods
from tests.channels import Channels, backend_manager


@dataclass
class Contract:
    """Scripted per test: token answers of the device flow, revoked tokens; every request logged."""

    token_answers: list[dict[str, Any]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=lambda: [{"id": 1, "body": "first"}])

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._logged])
        app.router.add_post("/login/device/code", self.device_code)
        app.router.add_post("/login/oauth/access_token", self.access_token)
        app.router.add_get("/user", self.user)
        app.router.add_get("/repos/{owner}/{repo}/issues", self.issues)
        app.router.add_get("/repos/{owner}/{repo}/issues/{number}", self.issue)
        app.router.add_get("/repos/{owner}/{repo}/issues/{number}/comments", self.list_comments)
        app.router.add_post("/repos/{owner}/{repo}/issues/{number}/comments", self.add_comment)
        app.router.add_get("/repos/{owner}/{repo}/pulls", self.pulls)
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}", self.pull)
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}/reviews", self.reviews)
        app.router.add_get("/repos/{owner}/{repo}/commits/{sha}/check-runs", self.checks)
        return app

    @web.middleware
    async def _logged(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.log.append((request.method, request.path_qs, request.headers.get("If-None-Match")))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.revoked:
            return web.json_response({"message": "Bad credentials"}, status=401)
        if request.match_info.get("repo") == "limited":
            headers = {
                "X-RateLimit-Limit": "60",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "1999999999",
            }
            return web.json_response({"message": "API rate limit exceeded"}, status=403, headers=headers)
        response: web.StreamResponse = await handler(request)
        response.headers.update(
            {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4990", "X-RateLimit-Used": "10"}
        )
        return response

    async def device_code(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "device_code": "dev-1",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://github.com/login/device",
                "expires_in": 900,
                "interval": 0,
            }
        )

    async def access_token(self, _request: web.Request) -> web.Response:
        return web.json_response(self.token_answers.pop(0))

    async def user(self, _request: web.Request) -> web.Response:
        return web.json_response({"login": "octocat"})

    def _conditional(self, request: web.Request, body: Any, etag: str, **headers: str) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag, **headers})
        return web.json_response(body, headers={"ETag": etag, **headers})

    async def issues(self, request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        base = f"{request.url.origin()}{request.path}"
        if page == 1:
            items = [
                {"number": 1, "title": "Bug", "state": "open"},
                {"number": 2, "title": "PR", "pull_request": {}},
            ]
            link = f'<{base}?page=2>; rel="next", <{base}?page=2>; rel="last"'
            return self._conditional(request, items, '"issues-p1"', Link=link)
        return self._conditional(request, [{"number": 3, "title": "Old", "state": "open"}], '"issues-p2"')

    async def issue(self, request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        return self._conditional(
            request, {"number": number, "title": "Bug", "body": "It breaks."}, f'"issue-{number}"'
        )

    async def list_comments(self, request: web.Request) -> web.Response:
        return self._conditional(request, self.comments, f'"comments-{len(self.comments)}"')

    async def add_comment(self, request: web.Request) -> web.Response:
        made = {"id": len(self.comments) + 1, "body": (await request.json())["body"]}
        self.comments.append(made)
        return web.json_response(made, status=201)

    async def pulls(self, request: web.Request) -> web.Response:
        return self._conditional(request, [{"number": 2, "title": "PR"}], '"pulls"')

    async def pull(self, request: web.Request) -> web.Response:
        return self._conditional(request, {"number": 2, "title": "PR", "head": {"sha": "abc123"}}, '"pull-2"')

    async def reviews(self, request: web.Request) -> web.Response:
        return self._conditional(request, [{"id": 9, "state": "APPROVED"}], '"reviews"')

    async def checks(self, request: web.Request) -> web.Response:
        body = {"total_count": 1, "check_runs": [{"name": "ci", "conclusion": "success"}]}
        return self._conditional(request, body, '"checks"')


@pytest.fixture
async def contract(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Contract]:
    scripted = Contract()
    server = TestServer(scripted.app(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("NOODL_SIDECAR_GITHUB_API", base)
    monkeypatch.setenv("NOODL_SIDECAR_GITHUB_OAUTH", base)
    monkeypatch.setenv("NOODL_SIDECAR_GITHUB_CLIENT_ID", "client-1")
    monkeypatch.setenv("NOODL_CREDENTIALS_KEY", base64.b64encode(b"k" * 32).decode())
    try:
        yield scripted
    finally:
        await server.close()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "home" / "backends") as managed:
        yield managed


async def test_device_flow_sign_in_lists_with_etags_and_comments(
    contract: Contract, manager: BackendManager
) -> None:
    channels = Channels(register_github_methods, manager)
    contract.token_answers = [
        {"error": "authorization_pending"},
        {"access_token": "gho_token1", "token_type": "bearer"},
    ]
    signed = await channels("github:sign-in")
    assert signed == {"signedIn": True, "login": "octocat"}
    shown = [params[0] for method, params in channels.sent if method == "github:device-code"]
    assert shown == [
        {
            "userCode": "WDJB-MJHT",
            "verificationUri": "https://github.com/login/device",
            "expiresIn": 900,
            "interval": 0,
        }
    ]

    first = await channels("github:issues", "octo", "hello")
    assert [item["number"] for item in first["items"]] == [1]  # the pull request is left out
    assert (first["nextPage"], first["fromCache"]) == (2, False)
    assert first["rateLimit"] == {"limit": 5000, "remaining": 4990, "reset": None, "used": 10}
    again = await channels("github:issues", "octo", "hello")
    assert (again["items"], again["fromCache"], again["nextPage"]) == (first["items"], True, 2)
    issue_requests = [entry for entry in contract.log if entry[1].startswith("/repos/octo/hello/issues?")]
    assert [etag for _method, _path, etag in issue_requests] == [None, '"issues-p1"']
    second = await channels("github:issues", "octo", "hello", {"page": 2})
    assert ([i["number"] for i in second["items"]], second["nextPage"]) == ([3], None)

    detail = await channels("github:issue", "octo", "hello", 1)
    assert (detail["item"]["body"], [c["body"] for c in detail["comments"]]) == ("It breaks.", ["first"])
    made = await channels("github:create-comment", "octo", "hello", 1, "Looking into it")
    assert made["comment"]["body"] == "Looking into it"
    fresh = await channels("github:issue", "octo", "hello", 1)
    assert [c["body"] for c in fresh["comments"]] == ["first", "Looking into it"]

    pull = await channels("github:pull-request", "octo", "hello", 2)
    assert pull["reviews"] == [{"id": 9, "state": "APPROVED"}]
    assert pull["checks"] == [{"name": "ci", "conclusion": "success"}]
    assert [p["number"] for p in (await channels("github:pull-requests", "octo", "hello"))["items"]] == [2]

    with pytest.raises(Exception, match="rate limit") as limited:
        await channels("github:issues", "octo", "limited")
    assert limited.value.data["code"] == "GITHUB_RATE_LIMITED"  # type: ignore[attr-defined]
    contract.revoked.add("gho_token1")
    with pytest.raises(Exception, match="401") as revoked:
        await channels("github:issues", "octo", "hello", {"state": "closed"})
    assert revoked.value.data["code"] == "GITHUB_UNAUTHORIZED"  # type: ignore[attr-defined]
    assert await channels("github:sign-out") == {"signedIn": False, "login": None}


async def test_polling_honours_slow_down_and_expiry(contract: Contract) -> None:
    import os

    base = os.environ["NOODL_SIDECAR_GITHUB_OAUTH"]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    contract.token_answers = [
        {"error": "authorization_pending"},
        {"error": "slow_down", "interval": 10},
        {"error": "slow_down"},
        {"access_token": "gho_2"},
    ]
    started = {"device_code": "d", "interval": 5, "expires_in": 900}
    assert await poll_device_flow(base, "client-1", started, sleep=sleep) == "gho_2"
    assert waits == [5, 5, 10, 15]

    now = [0.0]

    async def slow_sleep(seconds: float) -> None:
        now[0] += seconds

    contract.token_answers = [{"error": "authorization_pending"}] * 5
    with pytest.raises(DeviceFlowError, match="expired") as expired:
        await poll_device_flow(
            base,
            "client-1",
            {"device_code": "d", "interval": 5, "expires_in": 12},
            sleep=slow_sleep,
            clock=lambda: now[0],
        )
    assert expired.value.data["reason"] == "expired_token"
    contract.token_answers = [{"error": "access_denied", "error_description": "The user said no."}]
    with pytest.raises(DeviceFlowError, match="said no"):
        await poll_device_flow(base, "client-1", {"device_code": "d", "interval": 1}, sleep=sleep)


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _make_repo(tmp_path: Path) -> Path:
    """A repository whose origin is on GitHub and whose branch is one commit ahead of its upstream."""
    upstream, work = tmp_path / "upstream.git", tmp_path / "work"
    subprocess.run(["git", "init", "--bare", "-q", str(upstream)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for key, value in (("user.email", "t@example.org"), ("user.name", "T")):
        _git(work, "config", key, value)
    (work / "project.json").write_text("{}", encoding="utf-8")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "one")
    _git(work, "remote", "add", "origin", "git@github.com:octo/hello-world.git")
    _git(work, "remote", "add", "up", str(upstream))
    _git(work, "push", "-q", "-u", "up", "main")
    _git(work, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(work, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    (work / "more.txt").write_text("x", encoding="utf-8")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "two")
    return work


async def test_repo_info_from_a_real_repository(manager: BackendManager, tmp_path: Path) -> None:
    channels = Channels(register_github_methods, manager)
    work = _make_repo(tmp_path)

    info = await channels("github:repo-info", str(work))
    assert info == {
        "remote": "origin",
        "remoteUrl": "git@github.com:octo/hello-world.git",
        "owner": "octo",
        "name": "hello-world",
        "isGitHub": True,
        "currentBranch": "main",
        "defaultBranch": "main",
        "ahead": 1,
        "behind": 0,
    }
    with pytest.raises(Exception, match="not inside a git repository"):
        await channels("github:repo-info", str(tmp_path))
