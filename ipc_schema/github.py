"""The GitHub panel's channels (``github:*``): arguments, results and the two notifications."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class RepoInfoParams(PositionalParams):
    project_path: str = Field(description="The project folder (any folder inside a git work tree).")
    remote: str | None = Field(default=None, description="Remote name; default the branch's, then origin.")


class RepoInfo(WireModel):
    path: str
    remote: str | None = None
    remote_url: str | None = None
    host: str | None = None
    owner: str | None = None
    name: str | None = None
    is_github: bool
    default_branch: str | None = Field(default=None, description="The remote's HEAD as last fetched.")
    current_branch: str | None = Field(default=None, description="Nil on a detached HEAD.")
    upstream: str | None = None
    ahead: int | None = Field(default=None, description="Commits on the branch not on its upstream.")
    behind: int | None = Field(default=None, description="Commits on the upstream not on the branch.")


class SignInParams(PositionalParams):
    client_id: str | None = Field(
        default=None, description="OAuth app client id; default $NOODL_GITHUB_CLIENT_ID."
    )
    scopes: list[str] | None = Field(default=None, description="Default repo, read:org.")


class AuthStatus(WireModel):
    signed_in: bool
    login: str | None = None
    scopes: list[str] | None = None
    problem: str | None = Field(default=None, description="Why a stored token does not sign in (revoked).")


class SignedOut(WireModel):
    signed_out: bool


class ListFilters(WireModel):
    state: Literal["open", "closed", "all"] = "open"
    labels: list[str] = Field(default_factory=list)
    assignee: str | None = None
    author: str | None = None
    search: str | None = Field(default=None, description="Free text: the search API answers instead.")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=30, ge=1, le=100)


class ListParams(PositionalParams):
    owner: str
    repo: str
    filters: ListFilters = Field(default_factory=ListFilters)


class NumberParams(PositionalParams):
    owner: str
    repo: str
    number: int = Field(ge=1)


class CreateCommentParams(PositionalParams):
    owner: str
    repo: str
    number: int = Field(ge=1)
    body: str = Field(min_length=1, max_length=65536)


class Label(WireModel):
    name: str
    color: str | None = None


class ItemSummary(WireModel):
    number: int
    title: str
    state: str
    author: str | None = None
    labels: list[Label]
    assignees: list[str]
    comments: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    closed_at: str | None = None
    html_url: str | None = None
    is_pull_request: bool
    draft: bool | None = None
    head_ref: str | None = None
    base_ref: str | None = None


class ItemPage(WireModel):
    items: list[ItemSummary]
    next_page: int | None = Field(
        default=None, description="From the Link header's rel=next; nil at the end."
    )
    last_page: int | None = None
    total_count: int | None = Field(default=None, description="Only when the search API answered.")
    from_cache: bool = Field(description="GitHub answered 304 Not Modified: the cached page was served.")


class Comment(WireModel):
    id: int
    author: str | None = None
    body: str
    created_at: str | None = None
    updated_at: str | None = None
    html_url: str | None = None


class IssueDetail(ItemSummary):
    body: str
    comment_list: list[Comment]
    from_cache: bool


class Review(WireModel):
    id: int
    author: str | None = None
    state: str
    body: str
    submitted_at: str | None = None


class CheckRun(WireModel):
    name: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None


class PullDetail(IssueDetail):
    merged: bool
    mergeable: bool | None = None
    head_sha: str | None = None
    reviews: list[Review]
    checks: list[CheckRun]


class DeviceCodeEvent(WireModel):
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


class DeviceCodeParams(PositionalParams):
    event: DeviceCodeEvent


class RateLimitEvent(WireModel):
    limit: int | None = None
    remaining: int | None = None
    reset: int | None = Field(default=None, description="Epoch seconds when the quota refills.")
    used: int | None = None
    resource: str | None = None


class RateLimitParams(PositionalParams):
    event: RateLimitEvent
