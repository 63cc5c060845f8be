"""The editor's ``backend:*`` channels: arguments and results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel

JsonObject = dict[str, Any]

# ---- values --------------------------------------------------------------------------------


class BackendMetadata(WireModel):
    """``config.json`` of a backend."""

    id: str
    name: str
    created_at: str
    port: int
    project_ids: list[str] = Field(default_factory=list)


class PersistenceError(WireModel):
    code: str
    message: str


class Persistence(WireModel):
    mode: Literal["unknown", "persistent", "ephemeral", "memory-fallback", "failed"] = Field(
        description="memory-fallback: the database file could not be used; the backend runs in memory "
        "and keeps nothing until a recovery action (`backend:recover-persistence`)"
    )
    engine: str | None = None
    persistent: bool
    ephemeral: bool
    error: PersistenceError | None = None
    reason: PersistenceError | None = Field(None, description="memory-fallback only: why the file failed")
    path: str | None = Field(None, description="memory-fallback only: the database file that failed")
    recovery: list[Literal["check", "start-fresh"]] | None = Field(
        None, description="memory-fallback only: the actions `backend:recover-persistence` offers"
    )


class PersistenceCheck(WireModel):
    """``PRAGMA integrity_check`` of the database file, opened read-only, and its folder's access."""

    path: str
    exists: bool
    folder_writable: bool
    ok: bool
    problems: list[str]


class RecoverPersistenceOptions(WireModel):
    action: Literal["check", "start-fresh"] = Field(
        description="check: report on the file, change nothing; start-fresh: rename the file (and its "
        "-wal/-shm) to local.db.bad-<time> beside it and restart the backend on a new database"
    )


class RecoverPersistenceParams(PositionalParams):
    backend_id: str
    options: RecoverPersistenceOptions


class FunctionEntry(WireModel):
    name: str
    workflow: str


class WorkflowStatus(WireModel):
    initialized: bool
    workflow_count: int
    functions: list[FunctionEntry]


class BackendStatus(WireModel):
    running: bool
    port: int | None = None
    endpoint: str | None = None
    pid: int | None = None
    persistence: Persistence
    workflows: WorkflowStatus | None = None


class PersistenceRecovered(WireModel):
    action: Literal["check", "start-fresh"]
    check: PersistenceCheck | None = None
    moved_to: str | None = Field(None, description="start-fresh: where the old file now is (nil: none)")
    status: BackendStatus


class Stopped(WireModel):
    running: Literal[False] = False


class Deleted(WireModel):
    deleted: bool
    id: str


class StartOptions(WireModel):
    ephemeral: bool = False


class ColumnDefinition(WireModel):
    name: str
    type: str = Field(description="A Parse type: String, Number, Boolean, Date, Object, Array, Pointer, …")
    required: bool = False
    default: Any = None
    target_class: str | None = None


class TableDefinition(WireModel):
    name: str
    columns: list[ColumnDefinition] = Field(default_factory=list)


class TableColumn(WireModel):
    name: str
    type: str
    required: bool
    default_value: Any = None
    target_class: str | None = None


class TableSchema(WireModel):
    name: str
    columns: list[TableColumn]


class SchemaDefinition(WireModel):
    version: int
    tables: list[TableSchema]


class RecordQuery(WireModel):
    collection: str
    limit: int = Field(default=50, ge=0)
    skip: int = Field(default=0, ge=0)
    where: JsonObject = Field(default_factory=dict)
    sort: list[str] = Field(default_factory=list, description="Field names, `-name` for descending.")
    count: bool = False


class RecordsPage(WireModel):
    results: list[JsonObject]
    count: int | None = None


class TableChange(WireModel):
    success: bool
    table_name: str
    created: bool | None = None
    deleted: bool | None = None
    column: str | None = None
    old_name: str | None = None
    new_name: str | None = None


class RecordDeleted(WireModel):
    success: bool


class WorkflowUpdate(WireModel):
    backend_id: str
    name: str
    workflow: JsonObject = Field(description="The runtime export of one cloud function bundle.")


class DeployProblem(WireModel):
    """Why a deploy was refused, where: the editor highlights ``nodeId`` in ``componentName``."""

    node_id: str | None = Field(description="The canvas node at fault; null for the component as a whole.")
    component_name: str | None
    problem: str


class WorkflowVersion(WireModel):
    """A kept deploy of one bundle (the backend keeps its last 10)."""

    version: int = Field(description="Counts up per backend.")
    workflow: str
    deployed_at: int = Field(description="Epoch milliseconds.")
    hash: str = Field(description="SHA-256 (hex) of the export as canonical JSON.")
    functions: list[str]
    rollback_of: int | None = Field(default=None, description="The version this deploy rolled back to.")
    active: bool = Field(default=False, description="The content the bundle runs now.")


class WorkflowUpdated(WireModel):
    success: bool
    error: str | None = None
    problems: list[DeployProblem] = Field(
        default_factory=list, description="When refused: every problem found, with its node."
    )
    version: WorkflowVersion | None = Field(default=None, description="When deployed: the version it is.")


class WorkflowVersions(WireModel):
    versions: list[WorkflowVersion] = Field(description="Newest first.")


class WorkflowsReloaded(WireModel):
    success: bool
    count: int


class CollectionChanged(WireModel):
    """Pushed as ``backend:collectionChanged`` after a subscribed collection changes."""

    backend_id: str
    collection: str
    event: Literal["change", "resync"]
    data: JsonObject


# ---- argument arrays -----------------------------------------------------------------------


class BackendIdParams(PositionalParams):
    backend_id: str


class ProjectLinkParams(PositionalParams):
    backend_id: str
    project_id: str = Field(description="The editor's id of the project (its folder path or project id)")


class ProjectIdParams(PositionalParams):
    project_id: str


class CreateBackendParams(PositionalParams):
    name: str


class StartBackendParams(PositionalParams):
    backend_id: str
    options: StartOptions = Field(default_factory=StartOptions)


class ExportSchemaParams(PositionalParams):
    backend_id: str
    format: Literal["postgres", "supabase", "json"]


class TableParams(PositionalParams):
    backend_id: str
    table: str


class CreateTableParams(PositionalParams):
    backend_id: str
    definition: TableDefinition


class AddColumnParams(PositionalParams):
    backend_id: str
    table: str
    column: ColumnDefinition


class RenameColumnParams(PositionalParams):
    backend_id: str
    table: str
    old_name: str
    new_name: str


class QueryRecordsParams(PositionalParams):
    backend_id: str
    query: RecordQuery


class CreateRecordParams(PositionalParams):
    backend_id: str
    collection: str
    data: JsonObject


class SaveRecordParams(PositionalParams):
    backend_id: str
    collection: str
    object_id: str
    data: JsonObject


class DeleteRecordParams(PositionalParams):
    backend_id: str
    collection: str
    object_id: str


class UpdateWorkflowParams(PositionalParams):
    update: WorkflowUpdate


class RollbackWorkflowParams(PositionalParams):
    backend_id: str
    version: int


class CollectionParams(PositionalParams):
    backend_id: str
    collection: str


class CollectionChangedParams(PositionalParams):
    change: CollectionChanged


class FunctionCall(WireModel):
    body: Any = Field(default=None, description="The parameters: an object (sent as JSON) or raw text.")
    headers: dict[str, str] = Field(default_factory=dict)


class FunctionRunParams(PositionalParams):
    backend_id: str
    name: str
    request: FunctionCall = Field(default_factory=FunctionCall)


class FunctionResult(WireModel):
    """What the real runner resolves with: the HTTP status and the exact body text."""

    status_code: int
    body: str
