"""The editor's ``backend:*`` channels, answered by the backend manager."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from sidecar import preload
from sidecar.backends import data
from sidecar.backends.manager import BackendManager
from sidecar.backends.workflow_versions import WorkflowVersion, WorkflowVersionNotFoundError
from sidecar.errors import InvalidParamsError, SidecarError
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import projects as p
    from ipc_schema import transfer as tr
else:
    p = LazyModule("ipc_schema.projects")
    tr = LazyModule("ipc_schema.transfer")


def register_backend_methods(table: MethodTable, manager: BackendManager) -> None:
    _register_lifecycle(table, manager)
    _register_schema(table, manager)
    _register_records(table, manager)
    _register_workflows(table, manager)
    _register_subscriptions(table, manager)
    _register_transfer(table, manager)
    _register_projects(table, manager)


def _register_lifecycle(table: MethodTable, manager: BackendManager) -> None:
    @table.method("backend:list")
    async def list_backends(_ctx: CallContext, _params: Any) -> list[b.BackendMetadata]:
        return [b.BackendMetadata.model_validate(config) for config in manager.list_backends()]

    @table.method("backend:create")
    async def create(_ctx: CallContext, params: b.CreateBackendParams) -> b.BackendMetadata:
        return b.BackendMetadata.model_validate(manager.create(params.name))

    @table.method("backend:delete")
    async def delete(_ctx: CallContext, params: b.BackendIdParams) -> b.Deleted:
        return b.Deleted.model_validate(await manager.delete(params.backend_id))

    @table.method("backend:get")
    async def get(_ctx: CallContext, params: b.BackendIdParams) -> b.BackendMetadata | None:
        config = manager.get(params.backend_id)
        return b.BackendMetadata.model_validate(config) if config else None

    @table.method("backend:link-project")
    async def link_project(_ctx: CallContext, params: b.ProjectLinkParams) -> b.BackendMetadata:
        return b.BackendMetadata.model_validate(manager.link_project(params.backend_id, params.project_id))

    @table.method("backend:unlink-project")
    async def unlink_project(_ctx: CallContext, params: b.ProjectLinkParams) -> b.BackendMetadata:
        return b.BackendMetadata.model_validate(manager.unlink_project(params.backend_id, params.project_id))

    @table.method("backend:for-project")
    async def for_project(_ctx: CallContext, params: b.ProjectIdParams) -> b.BackendMetadata | None:
        linked = manager.for_project(params.project_id)
        return b.BackendMetadata.model_validate(linked) if linked else None

    @table.method("backend:start")
    async def start(_ctx: CallContext, params: b.StartBackendParams) -> b.BackendStatus:
        status = await manager.start(params.backend_id, ephemeral=params.options.ephemeral)
        return b.BackendStatus.model_validate(status)

    @table.method("backend:stop")
    async def stop(_ctx: CallContext, params: b.BackendIdParams) -> b.Stopped:
        return b.Stopped.model_validate(await manager.stop(params.backend_id))

    @table.method("backend:status")
    async def status(_ctx: CallContext, params: b.BackendIdParams) -> b.BackendStatus:
        return b.BackendStatus.model_validate(manager.status(params.backend_id))

    @table.method("backend:recover-persistence")
    async def recover(_ctx: CallContext, params: b.RecoverPersistenceParams) -> b.PersistenceRecovered:
        done = await manager.recover_persistence(params.backend_id, params.options.action)
        return b.PersistenceRecovered.model_validate(done)


def _register_schema(table: MethodTable, manager: BackendManager) -> None:
    def store(backend_id: str, action: str) -> Any:
        return manager.running(backend_id, action).store

    @table.method("backend:getSchema")
    async def get_schema(_ctx: CallContext, params: b.BackendIdParams) -> b.SchemaDefinition:
        return b.SchemaDefinition.model_validate(
            await data.get_schema(store(params.backend_id, "read its schema"))
        )

    @table.method("backend:getTableSchema")
    async def get_table_schema(_ctx: CallContext, params: b.TableParams) -> b.TableSchema | None:
        found = await data.get_table_schema(store(params.backend_id, "read its schema"), params.table)
        return b.TableSchema.model_validate(found) if found else None

    @table.method("backend:createTable")
    async def create_table(_ctx: CallContext, params: b.CreateTableParams) -> b.TableChange:
        definition = params.definition.model_dump(by_alias=True)
        manager.require_writable(params.backend_id, "create a table")
        changed = await data.create_table(store(params.backend_id, "create a table"), definition)
        return b.TableChange.model_validate(changed)

    @table.method("backend:addColumn")
    async def add_column(_ctx: CallContext, params: b.AddColumnParams) -> b.TableChange:
        column = params.column.model_dump(by_alias=True)
        manager.require_writable(params.backend_id, "add a column")
        changed = await data.add_column(store(params.backend_id, "add a column"), params.table, column)
        return b.TableChange.model_validate(changed)

    @table.method("backend:renameColumn")
    async def rename_column(_ctx: CallContext, params: b.RenameColumnParams) -> b.TableChange:
        manager.require_writable(params.backend_id, "rename a column")
        target = store(params.backend_id, "rename a column")
        changed = await data.rename_column(target, params.table, params.old_name, params.new_name)
        return b.TableChange.model_validate(changed)

    @table.method("backend:deleteTable")
    async def delete_table(_ctx: CallContext, params: b.TableParams) -> b.TableChange:
        manager.require_writable(params.backend_id, "delete a table")
        changed = await data.delete_table(store(params.backend_id, "delete a table"), params.table)
        return b.TableChange.model_validate(changed)

    @table.method("backend:export-schema")
    async def export_schema(_ctx: CallContext, params: b.ExportSchemaParams) -> str:
        return await data.export_schema(store(params.backend_id, "export its schema"), params.format)


def _register_records(table: MethodTable, manager: BackendManager) -> None:
    def store(backend_id: str, action: str) -> Any:
        return manager.running(backend_id, action).store

    @table.method("backend:queryRecords")
    async def query_records(_ctx: CallContext, params: b.QueryRecordsParams) -> b.RecordsPage:
        request = params.query.model_dump(by_alias=True)
        page = await data.query_records(store(params.backend_id, "query records"), request)
        return b.RecordsPage.model_validate(page)

    @table.method("backend:getRecordCount")
    async def record_count(_ctx: CallContext, params: b.TableParams) -> int:
        return await data.record_count(store(params.backend_id, "count records"), params.table)

    @table.method("backend:createRecord")
    async def create_record(_ctx: CallContext, params: b.CreateRecordParams) -> dict[str, Any]:
        return await data.create_record(
            store(params.backend_id, "create a record"), params.collection, params.data
        )

    @table.method("backend:saveRecord")
    async def save_record(_ctx: CallContext, params: b.SaveRecordParams) -> dict[str, Any]:
        target = store(params.backend_id, "save a record")
        return await data.save_record(target, params.collection, params.object_id, params.data)

    @table.method("backend:deleteRecord")
    async def delete_record(_ctx: CallContext, params: b.DeleteRecordParams) -> b.RecordDeleted:
        target = store(params.backend_id, "delete a record")
        return b.RecordDeleted.model_validate(
            await data.delete_record(target, params.collection, params.object_id)
        )


def _register_workflows(table: MethodTable, manager: BackendManager) -> None:
    @table.method("backend:update-workflow")
    async def update_workflow(_ctx: CallContext, params: b.UpdateWorkflowParams) -> b.WorkflowUpdated:
        update = params.update
        manager.require_writable(update.backend_id, "deploy a workflow")
        backend = manager.running(update.backend_id, "update a workflow")
        answer = _deployed(lambda: backend.workflows.deploy(update.name, update.workflow))
        await backend.workflows.share_pending()  # the other replicas (PostgreSQL) are told before we answer
        return answer

    @table.method("backend:workflow-versions")
    async def workflow_versions(_ctx: CallContext, params: b.BackendIdParams) -> b.WorkflowVersions:
        backend = manager.running(params.backend_id, "list workflow versions")
        versions = [b.WorkflowVersion.model_validate(v.to_json()) for v in backend.workflows.list_versions()]
        return b.WorkflowVersions(versions=versions)

    @table.method("backend:rollback-workflow")
    async def rollback_workflow(_ctx: CallContext, params: b.RollbackWorkflowParams) -> b.WorkflowUpdated:
        manager.require_writable(params.backend_id, "roll back a workflow")
        backend = manager.running(params.backend_id, "roll back a workflow")
        answer = _deployed(lambda: backend.workflows.rollback(params.version))
        await backend.workflows.share_pending()
        return answer

    @table.method("function:run")
    async def run_function(_ctx: CallContext, params: b.FunctionRunParams) -> b.FunctionResult:
        backend = manager.running(params.backend_id, "run a function")
        body = {} if params.request.body is None else params.request.body
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        from sidecar.backends import functions  # loaded with the runtime, once a backend runs
        from sidecar.history import RunTrigger

        if backend.running.saved_pins.get(params.name):  # a test run: the function's saved pins apply
            from sidecar.debugging import service

            answer = await service.run_test(
                backend, params.name, text, params.request.headers, source="editor function:run"
            )
            return b.FunctionResult(status_code=answer["statusCode"], body=answer["body"])
        trigger = RunTrigger("test", trigger_source="editor function:run")
        response = await functions.invoke(backend, params.name, text, params.request.headers, trigger)
        return b.FunctionResult(status_code=response.status_code, body=response.body)

    @table.method("backend:reload-workflows")
    async def reload_workflows(_ctx: CallContext, params: b.BackendIdParams) -> b.WorkflowsReloaded:
        backend = manager.running(params.backend_id, "reload workflows")
        return b.WorkflowsReloaded(success=True, count=backend.workflows.load_all())

    @table.method("backend:workflow-status")
    async def workflow_status(_ctx: CallContext, params: b.BackendIdParams) -> b.WorkflowStatus:
        status = manager.status(params.backend_id)
        workflows = status.get("workflows") or {"initialized": False, "workflowCount": 0, "functions": []}
        return b.WorkflowStatus.model_validate(workflows)


def _deployed(deploy: Callable[[], WorkflowVersion]) -> b.WorkflowUpdated:
    """A deploy's answer: its version, or a refusal with every problem (the running bundle stays).
    Invalid arguments and a version that is not kept are errors of the call."""
    try:
        version = deploy()
    except (InvalidParamsError, WorkflowVersionNotFoundError):
        raise
    except SidecarError as exc:
        problems = exc.data.get("problems", []) if isinstance(exc.data, dict) else []
        return b.WorkflowUpdated(
            success=False, error=exc.message, problems=[b.DeployProblem.model_validate(p) for p in problems]
        )
    return b.WorkflowUpdated(success=True, version=b.WorkflowVersion.model_validate(version.to_json()))


def _register_subscriptions(table: MethodTable, manager: BackendManager) -> None:
    @table.method("backend:subscribeCollection")
    async def subscribe(_ctx: CallContext, params: b.CollectionParams) -> None:
        manager.subscribe_collection(params.backend_id, params.collection)

    @table.method("backend:unsubscribeCollection")
    async def unsubscribe(_ctx: CallContext, params: b.CollectionParams) -> None:
        manager.unsubscribe_collection(params.backend_id, params.collection)


def _register_transfer(table: MethodTable, manager: BackendManager) -> None:
    """Records export and import (``sidecar.backends.transfer``, loaded on first use)."""

    def reporter(ctx: CallContext) -> Callable[[str, int, int], None]:
        def report(stage: str, done: int, total: int) -> None:
            ctx.progress("report", message=f"{stage} {done}/{total}", percentage=100.0 * done / max(total, 1))

        return report

    @table.method("backend:export-data")
    async def export_data(ctx: CallContext, params: tr.ExportDataParams) -> tr.DataExported:
        from sidecar.backends.transfer import export_to

        backend = manager.running(params.backend_id, "export its data")
        options = params.options
        ctx.progress("begin", title="Exporting records")
        try:
            done = await export_to(
                backend.store,
                backend.spec.data_dir / "files",
                options.format,
                options.classes,
                options.include_password_hashes,
                options.path,
            )
        finally:
            ctx.progress("end")
        return tr.DataExported.model_validate(done)

    @table.method("backend:import-data")
    async def import_data(ctx: CallContext, params: tr.ImportDataParams) -> tr.DataImported:
        from sidecar.backends.transfer import import_data, read_import_text

        backend = manager.running(params.backend_id, "import data")
        options = params.options
        text = await read_import_text(options.content, options.path)
        ctx.progress("begin", title="Checking rows" if options.dry_run else "Importing records")
        try:
            report = await import_data(
                backend.store,
                text,
                options.format,
                class_name=options.class_name,
                dry_run=options.dry_run,
                progress=reporter(ctx),
            )
        finally:
            ctx.progress("end")
        return tr.DataImported.model_validate(report)


def _register_projects(table: MethodTable, manager: BackendManager) -> None:
    """Legacy-runtime detection and the read-only decision (``sidecar.backends.project_inspect``)."""

    @table.method("project:inspect")
    async def inspect(_ctx: CallContext, params: p.ProjectDirParams) -> p.ProjectInspection:
        from sidecar.backends.project_inspect import inspect_project
        from sidecar.runtime.library import node_library

        await preload.services_loaded()  # the runtime's node library loads after the handshake
        runtime_types = frozenset(str(entry["name"]) for entry in node_library())
        found = await asyncio.to_thread(inspect_project, Path(params.project_dir), runtime_types)
        found["readOnly"] = manager.projects.decision(found["projectId"])
        return p.ProjectInspection.model_validate(found)

    @table.method("project:set-read-only")
    async def set_read_only(_ctx: CallContext, params: p.SetReadOnlyParams) -> p.ReadOnlyRecorded:
        from sidecar.backends.project_inspect import project_id, read_project

        folder = await asyncio.to_thread(Path(params.project_dir).resolve)
        project = await asyncio.to_thread(read_project, folder)
        recorded = manager.projects.record(project_id(project, folder), str(folder), params.read_only)
        return p.ReadOnlyRecorded.model_validate(recorded)
