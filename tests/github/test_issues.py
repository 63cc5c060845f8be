"""Issues and pull requests over the github:* channels, against the contract server: filters, search,
Link pagination, details, comments, the ETag cache (proven by the server's log), rate-limit reports,
secondary rate limits and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.errors import GitHubError, GitHubNotFoundError, GitHubRateLimitError
from tests.channels import Channels
from tests.github.contract_server import ContractGitHub

pytestmark = pytest.mark.usefixtures("signed_in")


def numbers(page: dict[str, Any]) -> list[int]:
    return [item["number"] for item in page["items"]]


async def test_issue_list_leaves_pull_requests_out_and_follows_link_pages(
    channels: Channels, github: ContractGitHub
) -> None:
    first = await channels("github:list-issues", "octo", "hello", {"perPage": 4})
    assert numbers(first) == [1, 2, 5]  # #3 is a pull request, #4 is closed
    assert (first["nextPage"], first["lastPage"], first["fromCache"]) == (2, 3, False)
    assert first["items"][0]["labels"] == [{"name": "bug", "color": "ededed"}]
    assert first["items"][0]["assignees"] == ["hubot"]
    last = await channels("github:list-issues", "octo", "hello", {"perPage": 4, "page": 3})
    assert numbers(last) == [10, 11]
    assert last["nextPage"] is None
    assert github.log[-1].query == {"state": "open", "page": "3", "per_page": "4"}


async def test_filters_go_to_github(channels: Channels, github: ContractGitHub) -> None:
    assert numbers(await channels("github:list-issues", "octo", "hello", {"labels": ["bug"]})) == [1]
    assert numbers(await channels("github:list-issues", "octo", "hello", {"author": "octocat"})) == [2]
    assert numbers(await channels("github:list-issues", "octo", "hello", {"assignee": "hubot"})) == [1]
    closed = await channels("github:list-issues", "octo", "hello", {"state": "closed"})
    assert numbers(closed) == [4]
    assert github.api("/repos/octo/hello/issues")[1].query["creator"] == "octocat"


async def test_search_uses_the_search_api(channels: Channels, github: ContractGitHub) -> None:
    found = await channels("github:list-issues", "octo", "hello", {"search": "crash", "state": "all"})
    assert numbers(found) == [1]
    assert found["totalCount"] == 1
    assert github.log[-1].path == "/search/issues"
    assert github.log[-1].query["q"] == "crash repo:octo/hello is:issue"
    pulls = await channels("github:list-pulls", "octo", "hello", {"labels": ["bug"], "author": "octocat"})
    assert numbers(pulls) == [3]
    assert github.log[-1].query["q"] == "repo:octo/hello is:pr state:open label:bug author:octocat"


async def test_pull_list_and_detail_with_reviews_and_checks(
    channels: Channels, github: ContractGitHub
) -> None:
    pulls = await channels("github:list-pulls", "octo", "hello")
    assert numbers(pulls) == [3]
    assert (
        pulls["items"][0]["headRef"],
        pulls["items"][0]["baseRef"],
        pulls["items"][0]["isPullRequest"],
    ) == (
        "feature-3",
        "main",
        True,
    )
    sha = f"{3:040x}"
    github.reviews[3] = [
        {
            "id": 80,
            "user": {"login": "hubot"},
            "state": "APPROVED",
            "body": "LGTM",
            "submitted_at": "2026-02-02",
        }
    ]
    github.check_runs[sha] = [
        {"name": "tests", "status": "completed", "conclusion": "success", "html_url": "https://ci/1"},
        {"name": "lint", "status": "in_progress", "conclusion": None, "html_url": None},
    ]
    detail = await channels("github:get-pull", "octo", "hello", 3)
    assert detail["body"] == "Fixes #1"
    assert detail["headSha"] == sha
    assert detail["reviews"] == [
        {"id": 80, "author": "hubot", "state": "APPROVED", "body": "LGTM", "submittedAt": "2026-02-02"}
    ]
    assert [(run["name"], run["conclusion"]) for run in detail["checks"]] == [
        ("tests", "success"),
        ("lint", None),
    ]
    with pytest.raises(GitHubNotFoundError):
        await channels("github:get-pull", "octo", "hello", 1)


async def test_issue_detail_and_a_new_comment(channels: Channels, github: ContractGitHub) -> None:
    detail = await channels("github:get-issue", "octo", "hello", 1)
    assert (detail["title"], detail["body"], detail["commentList"]) == ("Crash on start", "It crashes.", [])
    created = await channels("github:create-comment", "octo", "hello", 1, "Looking into it")
    assert (created["author"], created["body"]) == ("mona", "Looking into it")
    assert github.log[-1].method == "POST"
    again = await channels("github:get-issue", "octo", "hello", 1)
    assert [comment["body"] for comment in again["commentList"]] == ["Looking into it"]
    assert again["comments"] == 1
    with pytest.raises(GitHubNotFoundError):
        await channels("github:get-issue", "octo", "hello", 99)


async def test_an_unchanged_list_is_served_from_the_cache(channels: Channels, github: ContractGitHub) -> None:
    first = await channels("github:list-issues", "octo", "hello")
    quota_after_first = github.remaining
    second = await channels("github:list-issues", "octo", "hello")
    assert second["fromCache"] is True
    assert second["items"] == first["items"]
    listed = github.api("/repos/octo/hello/issues")
    assert [(seen.status, seen.if_none_match is not None) for seen in listed] == [(200, False), (304, True)]
    assert github.remaining == quota_after_first  # a 304 costs no quota
    # A change on GitHub's side changes the ETag: the new page is fetched, not the cached one.
    github.issues[0]["title"] = "Crash on start (Windows)"
    third = await channels("github:list-issues", "octo", "hello")
    assert (third["fromCache"], third["items"][0]["title"]) == (False, "Crash on start (Windows)")
    assert github.api("/repos/octo/hello/issues")[-1].status == 200


async def test_details_are_cached_too(channels: Channels, github: ContractGitHub) -> None:
    await channels("github:get-issue", "octo", "hello", 1)
    second = await channels("github:get-issue", "octo", "hello", 1)
    assert second["fromCache"] is True
    assert [seen.status for seen in github.log[-2:]] == [304, 304]


async def test_the_quota_is_reported_to_the_editor(channels: Channels, github: ContractGitHub) -> None:
    await channels("github:list-issues", "octo", "hello")
    name, params = channels.sent[-1]
    assert name == "github:rateLimit"
    assert params[0]["remaining"] == github.remaining == 4999
    assert params[0]["reset"] == github.reset
    assert (params[0]["limit"], params[0]["resource"]) == (5000, "core")


async def test_a_secondary_rate_limit_is_retried_once_after_the_delay(
    channels: Channels, github: ContractGitHub
) -> None:
    github.secondary_limits = 1
    page = await channels("github:list-issues", "octo", "hello")
    assert numbers(page) == [1, 2, 5, 6, 7, 8, 9, 10, 11]
    tries = github.api("/repos/octo/hello/issues")
    assert [seen.status for seen in tries] == [403, 200]
    assert tries[1].at - tries[0].at >= github.retry_after * 0.01 * 0.95


async def test_a_secondary_rate_limit_that_persists_is_an_error(
    channels: Channels, github: ContractGitHub
) -> None:
    github.secondary_limits = 2
    with pytest.raises(GitHubRateLimitError, match="secondary rate limit") as raised:
        await channels("github:list-issues", "octo", "hello")
    assert raised.value.data["retryAfter"] == 2
    assert len(github.api("/repos/octo/hello/issues")) == 2


async def test_a_spent_quota_is_an_error_with_the_reset(channels: Channels, github: ContractGitHub) -> None:
    github.remaining = 0
    with pytest.raises(GitHubRateLimitError) as raised:
        await channels("github:list-issues", "octo", "hello")
    assert raised.value.data["reset"] == github.reset
    assert raised.value.data["remaining"] == 0
    assert "API rate limit exceeded" in raised.value.message


@pytest.mark.parametrize(
    ("status", "text", "message"),
    [
        (500, "<html>Unicorn!</html>", "answered garbage"),
        (502, '{"message": "Server Error"}', "HTTP 502: Server Error"),
        (200, '{"message": "not a list"}', "other than a list"),
        (200, "[1, 2]", None),
    ],
)
async def test_odd_answers_are_clear_errors(
    channels: Channels, github: ContractGitHub, status: int, text: str, message: str | None
) -> None:
    github.broken["/repos/octo/hello/issues"] = (status, text)
    if message is None:  # a list of non-objects: nothing the panel can show, and no crash
        assert (await channels("github:list-issues", "octo", "hello"))["items"] == []
        return
    with pytest.raises(GitHubError, match=message) as raised:
        await channels("github:list-issues", "octo", "hello")
    assert type(raised.value) is GitHubError
