"""What the ``github:*`` channels do: sign-in and out, repository info, issues and pull requests."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sidecar.credentials import CredentialStore
from sidecar.errors import InvalidParamsError
from sidecar.github.api import GitHubClient, poll_device_flow, start_device_flow
from sidecar.github.repo import repo_info

TOKEN_NAME = "github-token"
DEFAULT_SCOPE = "repo"


class GitHubService:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.api_base = os.environ.get("NOODL_SIDECAR_GITHUB_API", "https://api.github.com")
        self.oauth_base = os.environ.get("NOODL_SIDECAR_GITHUB_OAUTH", "https://github.com")
        self.client_id = os.environ.get("NOODL_SIDECAR_GITHUB_CLIENT_ID")
        self._clients: dict[str, GitHubClient] = {}

    def _store(self) -> CredentialStore:
        return CredentialStore(self.home)

    def token(self) -> str | None:
        return self._store().stored_value(TOKEN_NAME)

    def client(self) -> GitHubClient:
        """One client per token, so its ETag cache and rate-limit figures last across calls."""
        token = self.token() or ""
        if token not in self._clients:
            self._clients[token] = GitHubClient(self.api_base, token or None)
        return self._clients[token]

    async def sign_in(self, scope: str, show_code: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        if not self.client_id:
            raise InvalidParamsError("no GitHub OAuth app: set NOODL_SIDECAR_GITHUB_CLIENT_ID")
        started = await start_device_flow(self.oauth_base, self.client_id, scope)
        show_code(
            {
                "userCode": started.get("user_code"),
                "verificationUri": started.get("verification_uri"),
                "expiresIn": started.get("expires_in"),
                "interval": started.get("interval"),
            }
        )
        token = await poll_device_flow(self.oauth_base, self.client_id, started)
        self._store().create(TOKEN_NAME, token, "github", replace=True)
        user = (await self.client().get("/user")).items
        return {"signedIn": True, "login": user.get("login") if isinstance(user, dict) else None}

    def sign_out(self) -> dict[str, Any]:
        if self.token() is not None:
            self._store().delete(TOKEN_NAME)
        self._clients.clear()
        return {"signedIn": False}

    async def repo(self, folder: str) -> dict[str, Any]:
        return await repo_info(Path(folder))

    def _answer(self, client: GitHubClient, **values: Any) -> dict[str, Any]:
        return {**values, "rateLimit": client.rate.to_wire()}

    async def issues(self, owner: str, name: str, filters: Mapping[str, Any], pulls: bool) -> dict[str, Any]:
        client = self.client()
        page = int(filters.get("page") or 1)
        per_page = int(filters.get("perPage") or 30)
        if filters.get("search"):
            terms = [f"repo:{owner}/{name}", "is:pr" if pulls else "is:issue", str(filters["search"])]
            for key, qualifier in (("state", "state"), ("assignee", "assignee"), ("author", "author")):
                if filters.get(key) and filters[key] != "all":
                    terms.append(f"{qualifier}:{filters[key]}")
            terms += [f'label:"{label}"' for label in filters.get("labels") or []]
            found = await client.get(
                "/search/issues", {"q": " ".join(terms), "page": str(page), "per_page": str(per_page)}
            )
            items = found.items.get("items", []) if isinstance(found.items, dict) else []
        else:
            params = {
                "state": str(filters.get("state") or "open"),
                "page": str(page),
                "per_page": str(per_page),
            }
            if not pulls:
                for key, param in (("assignee", "assignee"), ("author", "creator")):
                    if filters.get(key):
                        params[param] = str(filters[key])
                if filters.get("labels"):
                    params["labels"] = ",".join(filters["labels"])
            found = await client.get(f"/repos/{owner}/{name}/{'pulls' if pulls else 'issues'}", params)
            items = found.items if isinstance(found.items, list) else []
            if not pulls:  # the issues endpoint lists pull requests too
                items = [item for item in items if "pull_request" not in item]
        return self._answer(client, items=items, nextPage=found.next_page, fromCache=found.from_cache)

    async def issue(self, owner: str, name: str, number: int, pull: bool) -> dict[str, Any]:
        client = self.client()
        base = f"/repos/{owner}/{name}"
        detail = await client.get(f"{base}/{'pulls' if pull else 'issues'}/{number}")
        comments = await client.get(f"{base}/issues/{number}/comments")
        answer: dict[str, Any] = {"item": detail.items, "comments": comments.items}
        cached = detail.from_cache and comments.from_cache
        if pull:
            reviews = await client.get(f"{base}/pulls/{number}/reviews")
            sha = detail.items.get("head", {}).get("sha") if isinstance(detail.items, dict) else None
            checks = await client.get(f"{base}/commits/{sha}/check-runs") if sha else None
            answer["reviews"] = reviews.items
            answer["checks"] = (
                checks.items.get("check_runs", []) if checks and isinstance(checks.items, dict) else []
            )
            cached = cached and reviews.from_cache and (checks is None or checks.from_cache)
        return self._answer(client, fromCache=cached, **answer)

    async def comment(self, owner: str, name: str, number: int, body: str) -> dict[str, Any]:
        client = self.client()
        created = await client.post(f"/repos/{owner}/{name}/issues/{number}/comments", {"body": body})
        return self._answer(client, comment=created)
