"""A local contract server for the GitHub endpoints the GitHub service calls, written from GitHub's public
REST and OAuth device-flow reference, scripted per test.

It answers like github.com / api.github.com do: the device flow answers 200 with an ``error`` field while
waiting; every API answer carries ``x-ratelimit-*`` headers and an ``ETag``, and an ``If-None-Match`` that
matches answers ``304`` without spending quota; lists paginate with ``page``/``per_page`` and a ``Link``
header; an unknown or revoked token answers 401; a scripted secondary limit answers 403 with
``retry-after``. ``log`` records every request (method, path, query, If-None-Match, status) so tests can
prove what was sent and what GitHub answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

OWNER, REPO = "octo", "hello"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RATE_LIMIT = 5000


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    if_none_match: str | None
    status: int
    at: float
    body: Any = None


def user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 100000, "type": "User"}


def issue(
    number: int,
    title: str,
    *,
    state: str = "open",
    author: str = "mona",
    labels: tuple[str, ...] = (),
    assignees: tuple[str, ...] = (),
    pull: bool = False,
    body: str = "",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "number": number,
        "title": title,
        "state": state,
        "user": user(author),
        "labels": [{"name": name, "color": "ededed"} for name in labels],
        "assignees": [user(login) for login in assignees],
        "comments": 0,
        "created_at": f"2026-01-{number:02d}T10:00:00Z",
        "updated_at": f"2026-02-{number:02d}T10:00:00Z",
        "closed_at": None,
        "html_url": f"https://github.com/{OWNER}/{REPO}/issues/{number}",
        "body": body,
    }
    if pull:
        item["pull_request"] = {"url": f"https://api.github.com/repos/{OWNER}/{REPO}/pulls/{number}"}
    return item


def sample_issues() -> list[dict[str, Any]]:
    """Four kinds of item (a labelled, assigned issue; another author's; a pull request; a closed one)
    and seven fillers, so a page of four has three pages."""
    return [
        issue(1, "Crash on start", labels=("bug",), assignees=("hubot",), body="It crashes."),
        issue(2, "Add dark mode", labels=("enhancement",), author="octocat"),
        issue(3, "Fix the crash", pull=True, labels=("bug",), author="octocat", body="Fixes #1"),
        issue(4, "Old idea", state="closed"),
        *(issue(n, f"Filler {n}") for n in range(5, 12)),
    ]


@dataclass
class ContractGitHub:
    client_id: str = "Iv1.contract"
    tokens: dict[str, str] = field(default_factory=dict)
    """Valid token → login."""
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    token_answers: list[str] = field(default_factory=list)
    """The device flow's poll answers in order: an error code, or ``token`` (then the flow is done)."""
    device_interval: int = 5
    device_expires_in: int = 900
    slow_down_sends_interval: bool = True
    """GitHub's slow_down carries the new interval; RFC 8628 lets a server leave it out (then +5 s)."""
    issued_token: str = "gho_contractTokenA1b2C3d4E5f6"
    secondary_limits: int = 0
    """How many coming API requests answer 403 with ``retry-after: retry_after``."""
    retry_after: int = 2
    remaining: int = RATE_LIMIT
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)
    broken: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Path → (status, body text) answered instead of the real route: GitHub having a bad day."""
    log: list[Seen] = field(default_factory=list)
    _server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    def api(self, path_prefix: str) -> list[Seen]:
        return [seen for seen in self.log if seen.path.startswith(path_prefix)]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/login/device/code", self._device_code)
        app.router.add_post("/login/oauth/access_token", self._access_token)
        app.router.add_get("/user", self._user)
        app.router.add_get("/repos/{owner}/{repo}/issues", self._list_issues)
        app.router.add_get("/repos/{owner}/{repo}/pulls", self._list_pulls)
        app.router.add_get("/repos/{owner}/{repo}/issues/{number}", self._issue)
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}", self._pull)
        app.router.add_get("/repos/{owner}/{repo}/issues/{number}/comments", self._comments)
        app.router.add_post("/repos/{owner}/{repo}/issues/{number}/comments", self._add_comment)
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}/reviews", self._reviews)
        app.router.add_get("/repos/{owner}/{repo}/commits/{sha}/check-runs", self._check_runs)
        app.router.add_get("/search/issues", self._search)
        app.router.add_get("/_log", self._log_over_http)
        app.router.add_post("/_script", self._script_over_http)
        return app

    # ---- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.text() if request.can_read_body else None
        try:
            if request.path in self.broken:
                status, text = self.broken[request.path]
                response: web.StreamResponse = web.Response(status=status, text=text, headers=self._limits())
            else:
                response = await handler(request)
        except web.HTTPException as refusal:  # 401, 403, 404 are raised: log them too
            self._seen(request, refusal.status, body)
            raise
        self._seen(request, response.status, body)
        return response

    def _seen(self, request: web.Request, status: int, body: str | None) -> None:
        if_none_match = request.headers.get("If-None-Match")
        query = dict(request.query)
        self.log.append(
            Seen(request.method, request.path, query, if_none_match, status, time.monotonic(), body)
        )

    def _limits(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(RATE_LIMIT - self.remaining),
            "x-ratelimit-resource": "core",
        }

    def _authorize(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").removeprefix("token ")
        if token not in self.tokens:
            raise web.HTTPUnauthorized(
                text=json.dumps({"message": "Bad credentials", "status": "401"}),
                content_type="application/json",
                headers=self._limits(),
            )
        if self.remaining <= 0:  # the primary limit: 403 with remaining 0 and the reset, no retry-after
            raise web.HTTPForbidden(
                text=json.dumps({"message": "API rate limit exceeded for user ID 1."}),
                content_type="application/json",
                headers=self._limits(),
            )
        if self.secondary_limits > 0:
            self.secondary_limits -= 1
            raise web.HTTPForbidden(
                text=json.dumps({"message": "You have exceeded a secondary rate limit."}),
                content_type="application/json",
                headers={**self._limits(), "retry-after": str(self.retry_after)},
            )
        return self.tokens[token]

    def _json(self, request: web.Request, data: Any, links: str | None = None) -> web.Response:
        text = json.dumps(data, sort_keys=True)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            # Not modified: GitHub does not count it against the quota.
            return web.Response(status=304, headers={**self._limits(), "ETag": etag})
        self.remaining -= 1
        headers = {**self._limits(), "ETag": etag}
        if links:
            headers["Link"] = links
        return web.Response(text=text, content_type="application/json", headers=headers)

    def _paged(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "30"))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = request.url.with_query({k: v for k, v in request.query.items() if k != "page"})
        rels = []
        if page < last:
            rels += [
                f'<{base.update_query(page=page + 1)}>; rel="next"',
                f'<{base.update_query(page=last)}>; rel="last"',
            ]
        if page > 1:
            rels += [
                f'<{base.update_query(page=page - 1)}>; rel="prev"',
                f'<{base.update_query(page=1)}>; rel="first"',
            ]
        return self._json(request, chunk, ", ".join(rels) or None)

    def _find(self, request: web.Request) -> dict[str, Any]:
        number = int(request.match_info["number"])
        for item in self.issues:
            if item["number"] == number:
                return item
        raise web.HTTPNotFound(text=json.dumps({"message": "Not Found"}), content_type="application/json")

    async def _log_over_http(self, _request: web.Request) -> web.Response:
        """``GET /_log``: the request log, for tests in other processes (the Node end-to-end test)."""
        seen = [
            {
                "method": s.method,
                "path": s.path,
                "query": s.query,
                "ifNoneMatch": s.if_none_match,
                "status": s.status,
            }
            for s in self.log
            if not s.path.startswith("/_")
        ]
        return web.json_response(seen)

    async def _script_over_http(self, request: web.Request) -> web.Response:
        """``POST /_script {"tokenAnswers": [...], "deviceInterval": n}``: for other processes."""
        body = await request.json()
        self.token_answers = list(body.get("tokenAnswers", self.token_answers))
        self.device_interval = int(body.get("deviceInterval", self.device_interval))
        return web.json_response({"ok": True})

    # ---- device flow ------------------------------------------------------------------------

    async def _device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != self.client_id:
            return web.json_response({"error": "incorrect_client_credentials"})
        return web.json_response(
            {
                "device_code": "3584d83530557fdd1f46af8289938c8ef79f9dc5",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://github.com/login/device",
                "expires_in": self.device_expires_in,
                "interval": self.device_interval,
            }
        )

    async def _access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
            return web.json_response({"error": "unsupported_grant_type"})
        if form.get("device_code") != "3584d83530557fdd1f46af8289938c8ef79f9dc5":
            return web.json_response({"error": "incorrect_device_code"})
        answer = self.token_answers.pop(0) if self.token_answers else "authorization_pending"
        if answer == "token":
            self.tokens[self.issued_token] = "mona"
            return web.json_response(
                {"access_token": self.issued_token, "token_type": "bearer", "scope": "repo,read:org"}
            )
        if answer == "slow_down":
            self.device_interval += 5
            if not self.slow_down_sends_interval:
                return web.json_response({"error": "slow_down"})
            return web.json_response({"error": "slow_down", "interval": self.device_interval})
        return web.json_response({"error": answer})

    # ---- REST -------------------------------------------------------------------------------

    async def _user(self, request: web.Request) -> web.Response:
        login = self._authorize(request)
        return self._json(request, user(login))

    def _filtered(self, request: web.Request, *, pulls_only: bool) -> list[dict[str, Any]]:
        state = request.query.get("state", "open")
        labels = [name for name in request.query.get("labels", "").split(",") if name]
        found = []
        for item in self.issues:
            if pulls_only and "pull_request" not in item:
                continue
            if state != "all" and item["state"] != state:
                continue
            if any(name not in [label["name"] for label in item["labels"]] for name in labels):
                continue
            if "assignee" in request.query and request.query["assignee"] not in [
                a["login"] for a in item["assignees"]
            ]:
                continue
            if "creator" in request.query and item["user"]["login"] != request.query["creator"]:
                continue
            found.append(item)
        return found

    async def _list_issues(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return self._paged(request, self._filtered(request, pulls_only=False))

    def _as_pull(self, item: dict[str, Any]) -> dict[str, Any]:
        pull = {key: value for key, value in item.items() if key != "pull_request"}
        number = item["number"]
        pull.update(
            draft=False,
            merged=False,
            mergeable=True,
            head={"ref": f"feature-{number}", "sha": f"{number:040x}"},
            base={"ref": "main"},
        )
        pull["html_url"] = f"https://github.com/{OWNER}/{REPO}/pull/{number}"
        return pull

    async def _list_pulls(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return self._paged(
            request, [self._as_pull(item) for item in self._filtered(request, pulls_only=True)]
        )

    async def _issue(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return self._json(request, self._find(request))

    async def _pull(self, request: web.Request) -> web.Response:
        self._authorize(request)
        item = self._find(request)
        if "pull_request" not in item:
            raise web.HTTPNotFound(text=json.dumps({"message": "Not Found"}), content_type="application/json")
        return self._json(request, self._as_pull(item))

    async def _comments(self, request: web.Request) -> web.Response:
        self._authorize(request)
        item = self._find(request)
        return self._paged(request, self.comments.get(item["number"], []))

    async def _add_comment(self, request: web.Request) -> web.Response:
        login = self._authorize(request)
        item = self._find(request)
        body = await request.json()
        listed = self.comments.setdefault(item["number"], [])
        comment_id = 9000 + len(listed)
        comment = {
            "id": comment_id,
            "user": user(login),
            "body": body["body"],
            "created_at": "2026-03-01T10:00:00Z",
            "updated_at": "2026-03-01T10:00:00Z",
            "html_url": f"https://github.com/{OWNER}/{REPO}/issues/{item['number']}#issuecomment-{comment_id}",
        }
        listed.append(comment)
        item["comments"] = len(listed)
        self.remaining -= 1
        return web.json_response(comment, status=201, headers=self._limits())

    async def _reviews(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return self._paged(request, self.reviews.get(self._find(request)["number"], []))

    async def _check_runs(self, request: web.Request) -> web.Response:
        self._authorize(request)
        runs = self.check_runs.get(request.match_info["sha"], [])
        return self._json(request, {"total_count": len(runs), "check_runs": runs})

    async def _search(self, request: web.Request) -> web.Response:
        self._authorize(request)
        terms = request.query.get("q", "").split()
        found = []
        for item in self.issues:
            keep = True
            for term in terms:
                key, _, value = term.partition(":")
                value = value.strip('"')
                if key == "repo":
                    keep &= value == f"{OWNER}/{REPO}"
                elif key == "is":
                    keep &= ("pull_request" in item) == (value == "pr")
                elif key == "state":
                    keep &= item["state"] == value
                elif key == "label":
                    keep &= value in [label["name"] for label in item["labels"]]
                elif key == "author":
                    keep &= item["user"]["login"] == value
                elif key == "assignee":
                    keep &= value in [a["login"] for a in item["assignees"]]
                elif not value:
                    keep &= term.lower() in (item["title"] + " " + item["body"]).lower()
            if keep:
                found.append(item)
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "30"))
        chunk = found[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(found) // per_page))
        links = None
        if page < last:
            base = request.url
            following, final = base.update_query(page=page + 1), base.update_query(page=last)
            links = f'<{following}>; rel="next", <{final}>; rel="last"'
        return self._json(
            request, {"total_count": len(found), "incomplete_results": False, "items": chunk}, links
        )


@asynccontextmanager
async def contract_github(github: ContractGitHub | None = None) -> AsyncIterator[ContractGitHub]:
    server_state = github or ContractGitHub()
    server = TestServer(server_state.app())
    await server.start_server()
    server_state._server = server
    try:
        yield server_state
    finally:
        await server.close()


async def _serve_until_stdin_closes() -> None:
    """``python -m tests.github.contract_server``: print the root URL, serve the sample repository
    ``octo/hello`` until standard input closes."""
    async with contract_github(ContractGitHub(issues=sample_issues(), device_interval=1)) as github:
        print(github.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_serve_until_stdin_closes())
