"""The editor's ``github:*`` channels, answered by ``sidecar.github`` (loaded on first use)."""

from __future__ import annotations

from typing import Any

from ipc_schema import github as gh
from ipc_schema.base import NoParams
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable


def register_github_methods(table: MethodTable, manager: BackendManager) -> None:
    services: dict[str, Any] = {}

    def service() -> Any:
        if "github" not in services:
            from sidecar.github.service import GitHubService

            services["github"] = GitHubService(manager.registry.root.parent / "github")
        return services["github"]

    @table.method("github:repo-info")
    async def repo_info(_ctx: CallContext, params: gh.RepoInfoParams) -> gh.RepoInfo:
        return gh.RepoInfo.model_validate(await service().repo(params.project_dir))

    @table.method("github:sign-in")
    async def sign_in(ctx: CallContext, params: gh.SignInParams) -> gh.SignedIn:
        def show(code: dict[str, Any]) -> None:
            ctx.notify("github:device-code", [gh.DeviceCode.model_validate(code).to_wire()])

        return gh.SignedIn.model_validate(await service().sign_in(params.options.scope, show))

    @table.method("github:sign-out")
    async def sign_out(_ctx: CallContext, _params: NoParams) -> gh.SignedIn:
        return gh.SignedIn.model_validate(service().sign_out())

    def filters(params: gh.ListParams) -> dict[str, Any]:
        return params.filters.model_dump(by_alias=True, exclude_none=True)

    @table.method("github:issues")
    async def issues(_ctx: CallContext, params: gh.ListParams) -> gh.ItemsPage:
        found = await service().issues(params.owner, params.name, filters(params), pulls=False)
        return gh.ItemsPage.model_validate(found)

    @table.method("github:pull-requests")
    async def pulls(_ctx: CallContext, params: gh.ListParams) -> gh.ItemsPage:
        found = await service().issues(params.owner, params.name, filters(params), pulls=True)
        return gh.ItemsPage.model_validate(found)

    @table.method("github:issue")
    async def issue(_ctx: CallContext, params: gh.ItemParams) -> gh.ItemDetail:
        found = await service().issue(params.owner, params.name, params.number, pull=False)
        return gh.ItemDetail.model_validate(found)

    @table.method("github:pull-request")
    async def pull(_ctx: CallContext, params: gh.ItemParams) -> gh.ItemDetail:
        found = await service().issue(params.owner, params.name, params.number, pull=True)
        return gh.ItemDetail.model_validate(found)

    @table.method("github:create-comment")
    async def comment(_ctx: CallContext, params: gh.CommentParams) -> gh.CommentCreated:
        made = await service().comment(params.owner, params.name, params.number, params.body)
        return gh.CommentCreated.model_validate(made)
