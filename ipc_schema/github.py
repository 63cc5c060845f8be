"""``github:*``: the editor's GitHub panel (repository, sign-in, issues, pull requests, comments).

Issues, pull requests, comments, reviews and check runs are GitHub's own JSON objects, passed through.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel

JsonObject = dict[str, Any]


class RepoInfoParams(PositionalParams):
    project_dir: str


class RepoInfo(WireModel):
    remote: str
    remote_url: str | None = None
    owner: str | None = None
    name: str | None = None
    is_git_hub: bool = Field(alias="isGitHub")
    current_branch: str | None = None
    default_branch: str | None = Field(None, description="From refs/remotes/<remote>/HEAD (nil: unknown)")
    ahead: int | None = Field(None, description="Commits ahead of the upstream (nil: no upstream)")
    behind: int | None = None


class SignInOptions(WireModel):
    scope: str = "repo"


class SignInParams(PositionalParams):
    options: SignInOptions = Field(default_factory=SignInOptions)


class SignedIn(WireModel):
    signed_in: bool
    login: str | None = None


class DeviceCode(WireModel):
    user_code: str | None = None
    verification_uri: str | None = None
    expires_in: int | None = None
    interval: int | None = None


class DeviceCodeParams(PositionalParams):
    code: DeviceCode


class RateLimitInfo(WireModel):
    limit: int | None = None
    remaining: int | None = None
    reset: int | None = Field(None, description="Epoch seconds when the quota resets")
    used: int | None = None


class ListFilters(WireModel):
    state: str | None = Field(None, description="open (default), closed or all")
    labels: list[str] | None = None
    assignee: str | None = None
    author: str | None = None
    search: str | None = Field(None, description="Free text: the search API, with the other filters")
    page: int | None = None
    per_page: int | None = None


class ListParams(PositionalParams):
    owner: str
    name: str
    filters: ListFilters = Field(default_factory=ListFilters)


class ItemParams(PositionalParams):
    owner: str
    name: str
    number: int


class CommentParams(PositionalParams):
    owner: str
    name: str
    number: int
    body: str


class ItemsPage(WireModel):
    items: list[JsonObject]
    next_page: int | None = None
    from_cache: bool = Field(description="GitHub answered 304: served from the ETag cache")
    rate_limit: RateLimitInfo


class ItemDetail(WireModel):
    item: JsonObject
    comments: list[JsonObject]
    reviews: list[JsonObject] | None = None
    checks: list[JsonObject] | None = None
    from_cache: bool
    rate_limit: RateLimitInfo


class CommentCreated(WireModel):
    comment: JsonObject
    rate_limit: RateLimitInfo
