"""The GitHub panel's operations: sign-in state, issues and pull requests, in the wire shapes the
``github:*`` channels answer (camelCase maps, GitHub's fields trimmed to what the panel shows).

The token lives in an editor-wide credential store (``$NOODL_HOME/github/credentials.json``, encrypted
like every backend's credentials) under the name ``github``; sign-out deletes it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sidecar.credentials import CredentialStore, register_check
from sidecar.credentials.checks import CheckOutcome
from sidecar.errors import CredentialNotFoundError, GitHubAuthError, GitHubError
from sidecar.github.client import GitHubClient, RateLimit, Response, page_of
from sidecar.github.device_flow import DeviceCode, DeviceFlow
from sidecar.github.repo import read_repo_info

CREDENTIAL_NAME = "github"
PROVIDER = "github"
DEFAULT_SCOPES = ["repo", "read:org"]
API_URL_ENV = "NOODL_GITHUB_API_URL"
OAUTH_URL_ENV = "NOODL_GITHUB_OAUTH_URL"
CLIENT_ID_ENV = "NOODL_GITHUB_CLIENT_ID"

Wire = dict[str, Any]


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = "https://api.github.com"
    oauth_url: str = "https://github.com"
    client_id: str | None = None
    time_scale: float = 1.0
    """Multiplies the device flow's waits and the secondary-limit delay (tests make it tiny)."""

    @classmethod
    def from_env(cls) -> GitHubSettings:
        return cls(
            api_url=os.environ.get(API_URL_ENV, cls.api_url),
            oauth_url=os.environ.get(OAUTH_URL_ENV, cls.oauth_url),
            client_id=os.environ.get(CLIENT_ID_ENV) or None,
        )


def _user(data: Any) -> str | None:
    return str(data["login"]) if isinstance(data, dict) and data.get("login") else None


def _labels(item: Wire) -> list[Wire]:
    return [
        {"name": str(label.get("name", "")), "color": label.get("color")}
        for label in item.get("labels") or []
        if isinstance(label, dict)
    ]


def _summary(item: Wire) -> Wire:
    summary: Wire = {
        "number": item.get("number"),
        "title": item.get("title", ""),
        "state": item.get("state", ""),
        "author": _user(item.get("user")),
        "labels": _labels(item),
        "assignees": [login for login in map(_user, item.get("assignees") or []) if login],
        "comments": item.get("comments"),
        "createdAt": item.get("created_at"),
        "updatedAt": item.get("updated_at"),
        "closedAt": item.get("closed_at"),
        "htmlUrl": item.get("html_url"),
        "isPullRequest": "pull_request" in item or "head" in item,
    }
    if "head" in item:
        summary["draft"] = bool(item.get("draft"))
        summary["headRef"] = (item.get("head") or {}).get("ref")
        summary["baseRef"] = (item.get("base") or {}).get("ref")
    return summary


def _comment(item: Wire) -> Wire:
    return {
        "id": item.get("id"),
        "author": _user(item.get("user")),
        "body": item.get("body") or "",
        "createdAt": item.get("created_at"),
        "updatedAt": item.get("updated_at"),
        "htmlUrl": item.get("html_url"),
    }


def _items(data: Any) -> list[Wire]:
    if not isinstance(data, list):
        raise GitHubError("GitHub answered something other than a list where a list was expected")
    return [item for item in data if isinstance(item, dict)]


def _object(data: Any) -> Wire:
    if not isinstance(data, dict):
        raise GitHubError("GitHub answered something other than an object where one was expected")
    return data


def _quoted(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


@dataclass
class GitHubService:
    settings: GitHubSettings
    credentials: CredentialStore
    last_rate_limit: RateLimit | None = None
    client: GitHubClient = field(init=False)

    def __post_init__(self) -> None:
        scale = self.settings.time_scale

        async def scaled_sleep(seconds: float) -> None:
            await asyncio.sleep(seconds * scale)

        self.client = GitHubClient(
            self.settings.api_url, self._token, on_rate_limit=self._remember_limit, sleep=scaled_sleep
        )

    @classmethod
    def for_home(cls, home: Path, settings: GitHubSettings | None = None) -> GitHubService:
        """The service whose token lives under ``home`` (``$NOODL_HOME``)."""
        return cls(settings or GitHubSettings.from_env(), CredentialStore(home / "github"))

    def _remember_limit(self, limit: RateLimit) -> None:
        self.last_rate_limit = limit

    async def _token(self) -> str:
        try:
            resolved = await asyncio.to_thread(self.credentials.lookup, CREDENTIAL_NAME, PROVIDER)
        except CredentialNotFoundError as exc:
            raise GitHubAuthError("not signed in to GitHub: run the sign-in first") from exc
        return resolved.value

    # ---- repository and account -------------------------------------------------------------

    async def repo_info(self, folder: str, remote: str | None) -> Wire:
        info = await read_repo_info(Path(folder), remote)
        return {
            "path": info.path,
            "remote": info.remote,
            "remoteUrl": info.remote_url,
            "host": info.host,
            "owner": info.owner,
            "name": info.name,
            "isGithub": info.is_github,
            "defaultBranch": info.default_branch,
            "currentBranch": info.current_branch,
            "upstream": info.upstream,
            "ahead": info.ahead,
            "behind": info.behind,
        }

    async def sign_in(
        self, on_code: Callable[[DeviceCode], None], client_id: str | None, scopes: list[str] | None
    ) -> Wire:
        chosen = client_id or self.settings.client_id
        if not chosen:
            raise GitHubError(
                f"no OAuth app client id: pass one or set ${CLIENT_ID_ENV}", data={"env": CLIENT_ID_ENV}
            )
        flow = DeviceFlow(self.settings.oauth_url, chosen, time_scale=self.settings.time_scale)
        code = await flow.request_code(scopes if scopes is not None else DEFAULT_SCOPES)
        on_code(code)
        token = await flow.poll(code)
        await asyncio.to_thread(self.credentials.create, CREDENTIAL_NAME, token.token, PROVIDER, replace=True)
        status = await self.status()
        status["scopes"] = [scope for scope in token.scope.split(",") if scope]
        return status

    async def sign_out(self) -> Wire:
        try:
            await asyncio.to_thread(self.credentials.delete, CREDENTIAL_NAME)
        except CredentialNotFoundError:
            return {"signedOut": False}
        return {"signedOut": True}

    async def status(self) -> Wire:
        """Signed in or not, and as whom; a refused (revoked) token says so instead of failing."""
        try:
            await self._token()  # the stored token, else $NOODL_CREDENTIAL_GITHUB
        except GitHubAuthError:
            return {"signedIn": False, "login": None}
        try:
            user = await self.client.get("/user")
        except GitHubAuthError as exc:
            return {"signedIn": False, "login": None, "problem": exc.message}
        return {"signedIn": True, "login": _user(user.data)}

    # ---- issues and pull requests -----------------------------------------------------------

    def _page(self, answer: Response, items: list[Wire], total: int | None = None) -> Wire:
        return {
            "items": items,
            "nextPage": page_of(answer.links.get("next")),
            "lastPage": page_of(answer.links.get("last")),
            "totalCount": total,
            "fromCache": answer.from_cache,
        }

    async def _search(self, owner: str, repo: str, kind: str, filters: Wire) -> Wire:
        terms = [filters["search"]] if filters.get("search") else []
        terms += [f"repo:{owner}/{repo}", f"is:{kind}"]
        if filters.get("state") in ("open", "closed"):
            terms.append(f"state:{filters['state']}")
        terms += [f"label:{_quoted(label)}" for label in filters.get("labels") or []]
        if filters.get("assignee"):
            terms.append(f"assignee:{filters['assignee']}")
        if filters.get("author"):
            terms.append(f"author:{filters['author']}")
        params = {"q": " ".join(terms), "page": str(filters["page"]), "per_page": str(filters["perPage"])}
        answer = await self.client.get("/search/issues", params)
        data = _object(answer.data)
        items = [_summary(item) for item in _items(data.get("items") or [])]
        return self._page(answer, items, data.get("total_count"))

    async def list_issues(self, owner: str, repo: str, filters: Wire) -> Wire:
        if filters.get("search"):
            return await self._search(owner, repo, "issue", filters)
        params = {
            "state": filters["state"],
            "page": str(filters["page"]),
            "per_page": str(filters["perPage"]),
        }
        if filters.get("labels"):
            params["labels"] = ",".join(filters["labels"])
        if filters.get("assignee"):
            params["assignee"] = filters["assignee"]
        if filters.get("author"):
            params["creator"] = filters["author"]
        answer = await self.client.get(f"/repos/{_path(owner)}/{_path(repo)}/issues", params)
        # GitHub's issues list includes pull requests (they are issues too); the Issues tab wants none.
        items = [_summary(item) for item in _items(answer.data) if "pull_request" not in item]
        return self._page(answer, items)

    async def list_pulls(self, owner: str, repo: str, filters: Wire) -> Wire:
        if filters.get("search") or filters.get("labels") or filters.get("assignee") or filters.get("author"):
            # The pulls list filters by state and branch only; the search API has the rest.
            return await self._search(owner, repo, "pr", filters)
        params = {
            "state": filters["state"],
            "page": str(filters["page"]),
            "per_page": str(filters["perPage"]),
        }
        answer = await self.client.get(f"/repos/{_path(owner)}/{_path(repo)}/pulls", params)
        return self._page(answer, [_summary(item) for item in _items(answer.data)])

    async def _comments(self, owner: str, repo: str, number: int) -> tuple[list[Wire], bool]:
        answer = await self.client.get(
            f"/repos/{_path(owner)}/{_path(repo)}/issues/{number}/comments", {"per_page": "100"}
        )
        return [_comment(item) for item in _items(answer.data)], answer.from_cache

    async def get_issue(self, owner: str, repo: str, number: int) -> Wire:
        answer = await self.client.get(f"/repos/{_path(owner)}/{_path(repo)}/issues/{number}")
        issue = _object(answer.data)
        comments, comments_cached = await self._comments(owner, repo, number)
        return {
            **_summary(issue),
            "body": issue.get("body") or "",
            "commentList": comments,
            "fromCache": answer.from_cache and comments_cached,
        }

    async def get_pull(self, owner: str, repo: str, number: int) -> Wire:
        base = f"/repos/{_path(owner)}/{_path(repo)}"
        answer = await self.client.get(f"{base}/pulls/{number}")
        pull = _object(answer.data)
        comments, comments_cached = await self._comments(owner, repo, number)
        reviews = await self.client.get(f"{base}/pulls/{number}/reviews", {"per_page": "100"})
        head_sha = (pull.get("head") or {}).get("sha")
        checks_data: Wire = {}
        checks_cached = True
        if head_sha:
            checks = await self.client.get(f"{base}/commits/{head_sha}/check-runs", {"per_page": "100"})
            checks_data, checks_cached = _object(checks.data), checks.from_cache
        return {
            **_summary(pull),
            "body": pull.get("body") or "",
            "merged": bool(pull.get("merged")),
            "mergeable": pull.get("mergeable"),
            "headSha": head_sha,
            "commentList": comments,
            "reviews": [
                {
                    "id": review.get("id"),
                    "author": _user(review.get("user")),
                    "state": review.get("state", ""),
                    "body": review.get("body") or "",
                    "submittedAt": review.get("submitted_at"),
                }
                for review in _items(reviews.data)
            ],
            "checks": [
                {
                    "name": run.get("name", ""),
                    "status": run.get("status", ""),
                    "conclusion": run.get("conclusion"),
                    "htmlUrl": run.get("html_url"),
                }
                for run in _items(checks_data.get("check_runs") or [])
            ],
            "fromCache": answer.from_cache and comments_cached and reviews.from_cache and checks_cached,
        }

    async def create_comment(self, owner: str, repo: str, number: int, body: str) -> Wire:
        answer = await self.client.request(
            "POST", f"/repos/{_path(owner)}/{_path(repo)}/issues/{number}/comments", json={"body": body}
        )
        return _comment(_object(answer.data))


def _path(segment: str) -> str:
    return quote(segment, safe="")


async def _check_token(token: str) -> CheckOutcome:
    """``credentials:test`` of a ``github`` credential: who the token signs in as."""
    settings = GitHubSettings.from_env()

    async def given() -> str:
        return token

    try:
        user = await GitHubClient(settings.api_url, given).get("/user")
    except GitHubError as exc:
        return CheckOutcome("failed", exc.message)
    return CheckOutcome("ok", f"signed in as {_user(user.data)}")


register_check(PROVIDER, _check_token)
