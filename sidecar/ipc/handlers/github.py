"""The GitHub channels (``github:*``): the GitHub panel's data, from ``sidecar.github``.

Every call that reached GitHub is followed by a ``github:rateLimit`` notification with the quota GitHub
reported, so the editor can show it and back off before it runs out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ipc_schema.base import NoParams
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import github as gh
else:
    gh = LazyModule("ipc_schema.github")


if TYPE_CHECKING:
    from sidecar.github import DeviceCode, GitHubService


def register_github_methods(table: MethodTable, github: Callable[[], GitHubService]) -> None:
    """``github`` gives the service: the GitHub package (and its HTTP client) loads on the first call."""

    async def reporting(ctx: CallContext, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        before = github().last_rate_limit
        try:
            return await call
        finally:
            limit = github().last_rate_limit
            if limit is not None and limit is not before:
                event = gh.RateLimitEvent.model_validate(limit.to_wire())
                ctx.notify("github:rateLimit", [event.to_wire()])

    @table.method("github:repo-info")
    async def repo_info(_ctx: CallContext, params: gh.RepoInfoParams) -> gh.RepoInfo:
        return gh.RepoInfo.model_validate(await github().repo_info(params.project_path, params.remote))

    @table.method("github:sign-in")
    async def sign_in(ctx: CallContext, params: gh.SignInParams) -> gh.AuthStatus:
        def on_code(code: DeviceCode) -> None:
            event = gh.DeviceCodeEvent(
                user_code=code.user_code,
                verification_uri=code.verification_uri,
                expires_in=code.expires_in,
                interval=code.interval,
            )
            ctx.notify("github:deviceCode", [event.to_wire()])

        status = await reporting(ctx, github().sign_in(on_code, params.client_id, params.scopes))
        return gh.AuthStatus.model_validate(status)

    @table.method("github:sign-out")
    async def sign_out(_ctx: CallContext, _params: NoParams) -> gh.SignedOut:
        return gh.SignedOut.model_validate(await github().sign_out())

    @table.method("github:auth-status")
    async def auth_status(ctx: CallContext, _params: NoParams) -> gh.AuthStatus:
        return gh.AuthStatus.model_validate(await reporting(ctx, github().status()))

    @table.method("github:list-issues")
    async def list_issues(ctx: CallContext, params: gh.ListParams) -> gh.ItemPage:
        filters = params.filters.model_dump(by_alias=True)
        return gh.ItemPage.model_validate(
            await reporting(ctx, github().list_issues(params.owner, params.repo, filters))
        )

    @table.method("github:list-pulls")
    async def list_pulls(ctx: CallContext, params: gh.ListParams) -> gh.ItemPage:
        filters = params.filters.model_dump(by_alias=True)
        return gh.ItemPage.model_validate(
            await reporting(ctx, github().list_pulls(params.owner, params.repo, filters))
        )

    @table.method("github:get-issue")
    async def get_issue(ctx: CallContext, params: gh.NumberParams) -> gh.IssueDetail:
        return gh.IssueDetail.model_validate(
            await reporting(ctx, github().get_issue(params.owner, params.repo, params.number))
        )

    @table.method("github:get-pull")
    async def get_pull(ctx: CallContext, params: gh.NumberParams) -> gh.PullDetail:
        return gh.PullDetail.model_validate(
            await reporting(ctx, github().get_pull(params.owner, params.repo, params.number))
        )

    @table.method("github:create-comment")
    async def create_comment(ctx: CallContext, params: gh.CreateCommentParams) -> gh.Comment:
        created = github().create_comment(params.owner, params.repo, params.number, params.body)
        return gh.Comment.model_validate(await reporting(ctx, created))
