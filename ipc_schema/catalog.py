"""The protocol's table of contents: every method and notification with its models.

The sidecar binds a handler to each client-to-sidecar entry (``sidecar.ipc.methods``);
the generator (``ipc_schema.generate``) writes JSON Schema and TypeScript from here.
A method's params are always an argument array, described by a ``PositionalParams``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from ipc_schema import diagnostics, lifecycle, runtime, system
from ipc_schema.base import NoParams, PositionalParams
from ipc_schema.deferred import models_of, resolve

# Every session answers initialize and starts a backend (the modules above); the channels below may
# never be called, so their models are named here and imported when first needed (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import credentials as c
    from ipc_schema import debugging as dbg
    from ipc_schema import deploy as d
    from ipc_schema import github as gh
    from ipc_schema import history as h
    from ipc_schema import migrate as mg
    from ipc_schema import monitoring as m
    from ipc_schema import projects as p
    from ipc_schema import python as py
    from ipc_schema import security as s
    from ipc_schema import transfer as tr
    from ipc_schema import triggers as t
else:
    c = models_of("credentials")
    dbg = models_of("debugging")
    d = models_of("deploy")
    gh = models_of("github")
    h = models_of("history")
    mg = models_of("migrate")
    m = models_of("monitoring")
    p = models_of("projects")
    py = models_of("python")
    s = models_of("security")
    tr = models_of("transfer")
    t = models_of("triggers")


class Direction(Enum):
    TO_SIDECAR = "toSidecar"
    TO_EDITOR = "toEditor"


@dataclass(frozen=True)
class MethodSpec:
    """A request: answered with ``result`` (``None`` means nil on the wire)."""

    name: str
    declared_params: Any
    """The ``PositionalParams`` class, or a ``DeferredModel`` naming it: read ``params``."""
    declared_result: Any
    """The result type, or a ``DeferredModel`` naming it: read ``result``."""
    doc: str
    diagnostic: bool = False

    @property
    def params(self) -> type[PositionalParams]:
        params: type[PositionalParams] = resolve(self.declared_params)
        return params

    @property
    def result(self) -> Any:
        return resolve(self.declared_result)


@dataclass(frozen=True)
class NotificationSpec:
    name: str
    declared_params: Any
    """The ``PositionalParams`` class, or a ``DeferredModel`` naming it: read ``params``."""
    direction: Direction
    doc: str

    @property
    def params(self) -> type[PositionalParams]:
        params: type[PositionalParams] = resolve(self.declared_params)
        return params


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "initialize",
        lifecycle.InitializeParams,
        lifecycle.InitializeResult,
        "First request of a session. Requests sent before it are answered with -32002.",
    ),
    MethodSpec(
        "shutdown", NoParams, None, "Stop accepting work, finish or cancel in-flight calls, answer nil."
    ),
    MethodSpec("$/ping", NoParams, None, "Liveness probe, answered on the event loop."),
    MethodSpec(
        "sidecar:selftest",
        NoParams,
        system.SelftestResult,
        "Exercise every native extension and library the process needs; reports each check.",
    ),
    MethodSpec(
        "runtime:nodeLibrary",
        runtime.NodeLibraryParams,
        list[runtime.NodeType],
        "Every node type cloud functions can use, with ports, types and defaults; with a language "
        "(`javascript`, `python`), the types a workflow of that language may use.",
    ),
    MethodSpec(
        "python:nodes",
        py.PythonBackendParams,
        py.PythonNodes,
        "A running backend's custom Python nodes (`python/*.py`), discovered again if the folder "
        "changed, and the problems of the packs that did not load.",
    ),
    MethodSpec(
        "python:install",
        py.PythonBackendParams,
        py.PythonInstalled,
        "Install the backend's `python/requirements.txt` into its own package folder (never the "
        "sidecar's), reporting pip's progress with `$/progress`; the log is kept.",
    ),
    MethodSpec("backend:list", NoParams, list[b.BackendMetadata], "Every backend in the registry."),
    MethodSpec("backend:create", b.CreateBackendParams, b.BackendMetadata, "Create a backend folder."),
    MethodSpec("backend:delete", b.BackendIdParams, b.Deleted, "Stop a backend and remove its folder."),
    MethodSpec("backend:get", b.BackendIdParams, b.BackendMetadata | None, "One backend's metadata, or nil."),
    MethodSpec(
        "backend:link-project",
        b.ProjectLinkParams,
        b.BackendMetadata,
        "Link a project to a backend (kept in its config.json `projectIds`); a project has one backend, "
        "so it leaves any other.",
    ),
    MethodSpec(
        "backend:unlink-project",
        b.ProjectLinkParams,
        b.BackendMetadata,
        "Remove a project from a backend's `projectIds` (nothing happens if it was not linked).",
    ),
    MethodSpec(
        "backend:for-project",
        b.ProjectIdParams,
        b.BackendMetadata | None,
        "The backend a project is linked to, or nil.",
    ),
    MethodSpec(
        "project:inspect",
        p.ProjectDirParams,
        p.ProjectInspection,
        "Which editor generation a project folder was saved by, the node types its cloud functions use "
        "that the runtime lacks or the editor changes, and whether to open it read-only.",
    ),
    MethodSpec(
        "project:set-read-only",
        p.SetReadOnlyParams,
        p.ReadOnlyRecorded,
        "Record whether a project is open read-only; its linked backends then refuse deploys and schema "
        "changes (PROJECT_READ_ONLY).",
    ),
    MethodSpec("backend:start", b.StartBackendParams, b.BackendStatus, "Open persistence and bind the port."),
    MethodSpec("backend:stop", b.BackendIdParams, b.Stopped, "Stop serving; the data stays."),
    MethodSpec("backend:status", b.BackendIdParams, b.BackendStatus, "Running or stopped, with persistence."),
    MethodSpec(
        "backend:recover-persistence",
        b.RecoverPersistenceParams,
        b.PersistenceRecovered,
        "Check the database file of a running backend, or start a memory-fallback backend fresh "
        "after moving its bad file aside.",
    ),
    MethodSpec("backend:getSchema", b.BackendIdParams, b.SchemaDefinition, "Every user table's schema."),
    MethodSpec("backend:getTableSchema", b.TableParams, b.TableSchema | None, "One table's schema, or nil."),
    MethodSpec("backend:createTable", b.CreateTableParams, b.TableChange, "Create a table with columns."),
    MethodSpec("backend:addColumn", b.AddColumnParams, b.TableChange, "Add a column to a table."),
    MethodSpec("backend:renameColumn", b.RenameColumnParams, b.TableChange, "Rename a column."),
    MethodSpec("backend:deleteTable", b.TableParams, b.TableChange, "Drop a table and its relation tables."),
    MethodSpec(
        "backend:export-schema", b.ExportSchemaParams, str, "The schema as PostgreSQL, Supabase or JSON text."
    ),
    MethodSpec(
        "backend:export-data",
        tr.ExportDataParams,
        tr.DataExported,
        "Export records (all classes or chosen ones) as JSON lines or PostgreSQL/Supabase SQL with data; "
        "$/progress while it runs.",
    ),
    MethodSpec(
        "backend:import-data",
        tr.ImportDataParams,
        tr.DataImported,
        "Import JSON lines or a Parse Server export: every row checked first, bad rows reported, a dry "
        "run writes nothing; $/progress while it runs.",
    ),
    MethodSpec(
        "backend:migrate-to-postgres",
        mg.MigrateParams,
        mg.Migrated,
        "Copy a stopped embedded backend (records of every class, schemas, users, sessions, roles, "
        "relations, history) into PostgreSQL and count every table; $/progress while it runs.",
    ),
    MethodSpec(
        "backend:queryRecords", b.QueryRecordsParams, b.RecordsPage, "Find records (limit 50 default)."
    ),
    MethodSpec("backend:getRecordCount", b.TableParams, int, "Rows in a table; 0 when it cannot be counted."),
    MethodSpec(
        "backend:createRecord", b.CreateRecordParams, dict[str, Any], "Create a record; the full record."
    ),
    MethodSpec("backend:saveRecord", b.SaveRecordParams, dict[str, Any], "Update a record; the full record."),
    MethodSpec("backend:deleteRecord", b.DeleteRecordParams, b.RecordDeleted, "Delete a record."),
    MethodSpec(
        "backend:update-workflow",
        b.UpdateWorkflowParams,
        b.WorkflowUpdated,
        "Hot-deploy one bundle: checked before it replaces the running one; a refusal lists its problems.",
    ),
    MethodSpec(
        "function:run",
        b.FunctionRunParams,
        b.FunctionResult,
        "Run a cloud function of a running backend, as POST /functions/:name would.",
    ),
    MethodSpec("backend:reload-workflows", b.BackendIdParams, b.WorkflowsReloaded, "Reload every bundle."),
    MethodSpec(
        "backend:workflow-versions",
        b.BackendIdParams,
        b.WorkflowVersions,
        "The kept deploys of the backend's bundles, newest first, with time and content hash.",
    ),
    MethodSpec(
        "backend:rollback-workflow",
        b.RollbackWorkflowParams,
        b.WorkflowUpdated,
        "Deploy a kept version again (checked like any deploy); an unknown version is an error.",
    ),
    MethodSpec("backend:workflow-status", b.BackendIdParams, b.WorkflowStatus, "Loaded functions."),
    MethodSpec(
        "backend:listTriggers",
        b.BackendIdParams,
        dict[str, Any],
        "`{triggers: TriggerDef[] (with status), maxChangeDepth, suppressedCount}`.",
    ),
    MethodSpec("backend:getTrigger", t.TriggerIdParams, dict[str, Any], "One TriggerDef with its status."),
    MethodSpec(
        "backend:createTrigger",
        t.CreateTriggerParams,
        dict[str, Any],
        "`{trigger, secret?}`; a webhook's secret is returned this once only.",
    ),
    MethodSpec("backend:updateTrigger", t.UpdateTriggerParams, dict[str, Any], "`{trigger, secret?}`."),
    MethodSpec("backend:setTriggerEnabled", t.SetTriggerEnabledParams, dict[str, Any], "`{trigger}`."),
    MethodSpec("backend:deleteTrigger", t.TriggerIdParams, dict[str, Any], "`{deleted: true, id}`."),
    MethodSpec(
        "backend:fireTrigger",
        t.FireTriggerParams,
        dict[str, Any],
        "Fire now with a payload: `{ok, statusCode, body}`.",
    ),
    MethodSpec(
        "backend:getPermissions",
        b.BackendIdParams,
        dict[str, Any],
        "The whole security.json policy: `{version, devOpen, collections, functions}`.",
    ),
    MethodSpec(
        "backend:setPermissions",
        s.SetPermissionsParams,
        dict[str, Any],
        "Replace the policy (validated strictly, written atomically, CLPs applied); answers the policy.",
    ),
    MethodSpec(
        "backend:setCollectionPermissions",
        s.CollectionPermissionsParams,
        dict[str, Any],
        "Set one collection's class-level permissions; answers the policy.",
    ),
    MethodSpec(
        "backend:resetCollectionPermissions",
        s.CollectionNameParams,
        dict[str, Any],
        "Give one collection Parse's open defaults back; answers the policy.",
    ),
    MethodSpec(
        "backend:checkAccess",
        s.CheckAccessParams,
        s.AccessResult,
        "Would this caller be allowed? `{allowed, reason}` for a collection operation or a function.",
    ),
    MethodSpec("backend:listRoles", b.BackendIdParams, s.RoleList, "Every role with its members."),
    MethodSpec("backend:createRole", s.RoleParams, s.Role, "Create an empty role."),
    MethodSpec("backend:deleteRole", s.RoleParams, s.RoleDeleted, "Delete a role."),
    MethodSpec("backend:addRoleUser", s.RoleUserParams, s.Role, "Add a user to a role."),
    MethodSpec("backend:removeRoleUser", s.RoleUserParams, s.Role, "Remove a user from a role."),
    MethodSpec("backend:listApiKeys", b.BackendIdParams, s.ApiKeyList, "Every API key (never the secret)."),
    MethodSpec(
        "backend:createApiKey",
        s.CreateApiKeyParams,
        s.CreatedApiKey,
        "Issue a key with scopes; its plaintext `key` is returned this once only.",
    ),
    MethodSpec("backend:revokeApiKey", s.ApiKeyIdParams, s.ApiKeyInfo, "Revoke a key for good (401 after)."),
    MethodSpec(
        "credentials:create",
        c.CreateCredentialParams,
        c.CredentialInfo,
        "Store a named credential, encrypted; answers it without its value (409 over an existing name "
        "unless replace).",
    ),
    MethodSpec("credentials:list", b.BackendIdParams, c.CredentialList, "Every credential, never a value."),
    MethodSpec(
        "credentials:test",
        c.CredentialNameParams,
        c.CredentialTestResult,
        "Run the provider's check: ok, failed (with why) or untested when the provider has none.",
    ),
    MethodSpec("credentials:delete", c.CredentialNameParams, c.CredentialDeleted, "Delete a credential."),
    MethodSpec(
        "github:repo-info",
        gh.RepoInfoParams,
        gh.RepoInfo,
        "A project folder's git remote (owner, name), default and current branch, ahead/behind.",
    ),
    MethodSpec(
        "github:sign-in",
        gh.SignInParams,
        gh.AuthStatus,
        "OAuth device flow: sends github:deviceCode, answers once the code is entered (or the flow ends).",
    ),
    MethodSpec("github:sign-out", NoParams, gh.SignedOut, "Delete the stored GitHub token."),
    MethodSpec("github:auth-status", NoParams, gh.AuthStatus, "Signed in or not, and as whom."),
    MethodSpec("github:list-issues", gh.ListParams, gh.ItemPage, "A page of issues (no pull requests)."),
    MethodSpec("github:get-issue", gh.NumberParams, gh.IssueDetail, "One issue with body and comments."),
    MethodSpec("github:list-pulls", gh.ListParams, gh.ItemPage, "A page of pull requests."),
    MethodSpec(
        "github:get-pull", gh.NumberParams, gh.PullDetail, "One pull request with comments, reviews, checks."
    ),
    MethodSpec("github:create-comment", gh.CreateCommentParams, gh.Comment, "Comment on an issue or PR."),
    MethodSpec(
        "deploy:bundle",
        d.DeployOutParams,
        d.BundleWritten,
        "Write the backend's deploy bundle (never a secret: refused if one would leak); `$/progress` stages.",
    ),
    MethodSpec(
        "deploy:build-context",
        d.BuildContextParams,
        d.BuildContextWritten,
        "Write a Docker build context that serves the bundle (Dockerfile, bin/start, source); `$/progress`.",
    ),
    MethodSpec(
        "deploy:targets",
        b.BackendIdParams,
        d.DeployTargets,
        "The backend's deploy targets (secret names only).",
    ),
    MethodSpec(
        "deploy:target-set",
        d.TargetSetParams,
        d.DeployTarget,
        "Create or change a deploy target (provider, app, region, addresses, token credential).",
    ),
    MethodSpec(
        "deploy:run",
        d.TargetParams,
        d.Release,
        "Deploy: validate, build, push, release, wait for /health with the bundle hash, record; `$/progress`."
        " A failed stage (error data.stage) or `$/cancelRequest` leaves the previous release serving.",
    ),
    MethodSpec("deploy:releases", d.TargetParams, d.Releases, "The target's releases, oldest first."),
    MethodSpec(
        "deploy:rollback",
        d.RollbackParams,
        d.Release,
        "Redeploy an earlier release's image (no build) as a new release; `$/progress`.",
    ),
    MethodSpec(
        "deploy:env-set",
        d.EnvSetParams,
        d.DeployTarget,
        "Set or remove (nil) env vars and secrets of a target; secret values are write-only.",
    ),
    MethodSpec(
        "deploy:env-plan", d.TargetParams, d.EnvPlan, "What applying would change on the target (no values)."
    ),
    MethodSpec(
        "deploy:env-apply",
        d.TargetParams,
        d.EnvApplied,
        "Apply env vars and secrets (restarts the live release on its image); `$/progress`.",
    ),
    MethodSpec(
        "deploy:domain",
        d.DomainParams,
        d.DomainEntry,
        "Add a custom domain and poll its certificate until issued or failed; `$/progress`.",
    ),
    MethodSpec(
        "execution-history:list",
        h.ExecutionQueryParams,
        dict[str, Any],
        "`{executions: WorkflowExecution[], sources: [{id, name, kind, reachable, count, error?}], error?}`.",
    ),
    MethodSpec(
        "execution-history:get", h.ExecutionIdParams, dict[str, Any] | None, "ExecutionWithSteps, or nil."
    ),
    MethodSpec(
        "execution-history:rerun",
        dbg.RerunParams,
        dict[str, Any],
        "Run a past execution again with its recorded request, or with `edits` (body, headers, "
        "sessionToken) applied: `{statusCode, body, omitted, executionId?, inputChanges?}`; the new run's "
        "metadata.retryOf names the original and metadata.inputChanges lists the changed JSON pointers. "
        "Redacted parts are left out unless supplied; the [REDACTED] marker is never sent (409).",
    ),
    MethodSpec("execution-history:delete", h.ExecutionIdParams, dict[str, Any], "`{deleted: true, id}`."),
    MethodSpec(
        "execution-history:clear",
        h.ExecutionQueryParams,
        dict[str, Any],
        "Delete finished executions matching the filters: `{deleted: n}`.",
    ),
    MethodSpec(
        "execution-history:stats",
        h.StatsParams,
        dict[str, Any],
        "Counts, success rate and p50/p95/p99 durations of a backend (or one workflow).",
    ),
    MethodSpec(
        "monitoring:metrics",
        m.MetricsParams,
        dict[str, Any],
        "`{from, to, bucket, relativeError, retentionDays, series, totals, nodes?}`: per bucket (and "
        "workflow and trigger type) runs, successes, errors, timeouts, errorRate, totalMs, avgMs, "
        "p50Ms/p95Ms/p99Ms; "
        "nodes: per workflow node steps, errors, avgMs, p95Ms over the range.",
    ),
    MethodSpec(
        "monitoring:subscribe",
        m.FeedSubscribeParams,
        str,
        "Push `monitoring:tick` once a second with the backend's runs/s, errors, p95, in-flight runs and "
        "latest failures; answers the subscription id (the backend must be running).",
    ),
    MethodSpec(
        "monitoring:unsubscribe", m.FeedUnsubscribeParams, bool, "End a feed subscription; false if unknown."
    ),
    MethodSpec(
        "alerts:config",
        b.BackendIdParams,
        dict[str, Any],
        "The backend's alerts.json: `{rules, channels}` (secrets are credential names, never values).",
    ),
    MethodSpec(
        "alerts:put-rule",
        m.AlertRuleParams,
        dict[str, Any],
        "Create or replace a rule (strictly validated; its channels must exist); answers the saved rule.",
    ),
    MethodSpec(
        "alerts:delete-rule", m.AlertItemParams, dict[str, Any], "`{deleted: true, id}` (404 if unknown)."
    ),
    MethodSpec(
        "alerts:put-channel",
        m.AlertChannelParams,
        dict[str, Any],
        "Create or replace a webhook or email channel; answers the saved channel.",
    ),
    MethodSpec(
        "alerts:delete-channel",
        m.AlertItemParams,
        dict[str, Any],
        "`{deleted: true, id}`; refused while a rule still sends through it.",
    ),
    MethodSpec(
        "alerts:list",
        m.AlertListParams,
        dict[str, Any],
        "`{open, history}`: open alerts (one per rule and subject) and the newest history entries "
        "(firing, reminder, resolved, test; each with its deliveries: sent, failed, rateLimited).",
    ),
    MethodSpec(
        "alerts:test-send",
        m.AlertItemParams,
        dict[str, Any],
        "Send a test notice through one channel now: `{channel, status, attempts, error}`.",
    ),
    MethodSpec(
        "execution:subscribe",
        h.SubscribeParams,
        str,
        "Push execution:started/step/finished of a backend (or one workflow); answers the subscription id.",
    ),
    MethodSpec("execution:unsubscribe", h.UnsubscribeParams, bool, "End a subscription; false if unknown."),
    MethodSpec(
        "execution:pin",
        h.ExecutionIdParams,
        dict[str, Any],
        "One execution shaped for the canvas overlay: per node id `{nodeType, status, runCount, durationMs, "
        "inputs, outputs (port previews of at most 200 characters), error?, runs[{stepId, runIndex, status, "
        "path?, error?}]}`, plus `order`, `error {message, nodeId, stepId}`, `retryOf`.",
    ),
    MethodSpec(
        "execution:step-value",
        dbg.StepValueParams,
        dict[str, Any],
        "One port's whole stored value of one step: `{stepId, nodeId, side, port?, value, size, "
        "truncatedAtRecord?, originalSize?}`.",
    ),
    MethodSpec(
        "execution:cancel",
        h.ExecutionIdParams,
        dict[str, Any],
        "Stop a running execution: `{cancelled: true, executionId, nodeId?}`. Its caller gets HTTP 499 "
        "`function/cancelled`; the history records status `cancelled` with metadata.cancelledNodeId. "
        "A finished execution is refused (409), an unknown one 404.",
    ),
    MethodSpec(
        "debug:get-pins",
        dbg.PinsParams,
        dict[str, Any],
        "The saved pinned outputs of one function: `{function, pins: {nodeId: {port: value}}}`.",
    ),
    MethodSpec(
        "debug:set-pins",
        dbg.SetPinsParams,
        dict[str, Any],
        "Replace the saved pins of one function (test runs only: debug:test-run and function:run; "
        "production calls and triggers never use them). Answers as debug:get-pins.",
    ),
    MethodSpec(
        "debug:test-run",
        dbg.TestRunParams,
        dict[str, Any],
        "A test run with pinned node outputs and breakpoints: `{statusCode, body, executionId?, "
        "pinnedNodes, pauses}`. Pinned nodes send their pins instead of running (step outputs carry "
        '`__debug: "pinned"`); at a breakpoint the run pauses (execution:paused) until '
        "execution:continue / execution:step / execution:cancel.",
    ),
    MethodSpec(
        "execution:run-from",
        dbg.RunFromParams,
        dict[str, Any],
        "A test run from one node of a past execution: its request again, every node upstream of the "
        "node replayed from the recorded steps (not run): `{statusCode, body, executionId?, runFrom, "
        "replayedNodes, omitted, pauses}`. Refused (409) when an upstream output was cut or redacted, "
        "failed, or comes from a node that cannot be resumed (For Each, Retry, Try/Catch, Run Tasks).",
    ),
    MethodSpec(
        "execution:continue",
        h.ExecutionIdParams,
        dict[str, Any],
        "Resume a test run paused at a breakpoint, up to the next breakpoint: `{resumed, executionId, "
        "nodeId, step}`; 409 when it is not paused.",
    ),
    MethodSpec(
        "execution:step",
        h.ExecutionIdParams,
        dict[str, Any],
        "Resume a paused test run and pause again before the next node that runs.",
    ),
    MethodSpec(
        "backend:subscribeCollection",
        b.CollectionParams,
        None,
        "Push `backend:collectionChanged` for this collection's committed changes.",
    ),
    MethodSpec("backend:unsubscribeCollection", b.CollectionParams, None, "Stop those pushes."),
    MethodSpec(
        "diagnostics:echo", diagnostics.EchoParams, Any, "Answer with the value sent.", diagnostic=True
    ),
    MethodSpec(
        "diagnostics:sleep", diagnostics.SleepParams, None, "Answer after `ms` milliseconds.", diagnostic=True
    ),
    MethodSpec(
        "diagnostics:print",
        diagnostics.PrintParams,
        None,
        "print() the text, as a careless handler would; it must land on stderr.",
        diagnostic=True,
    ),
)

NOTIFICATIONS: tuple[NotificationSpec, ...] = (
    NotificationSpec(
        "initialized", NoParams, Direction.TO_SIDECAR, "The editor has processed initialize's result."
    ),
    NotificationSpec("exit", NoParams, Direction.TO_SIDECAR, "Exit: code 0 after shutdown, 1 otherwise."),
    NotificationSpec(
        "$/cancelRequest", lifecycle.CancelParams, Direction.TO_SIDECAR, "Cancel a call in flight."
    ),
    NotificationSpec(
        "$/setLogLevel",
        lifecycle.SetLogLevelParams,
        Direction.TO_SIDECAR,
        "Change the log level at run time.",
    ),
    NotificationSpec(
        "monitoring:tick",
        m.FeedFrameParams,
        Direction.TO_EDITOR,
        "One second of a backend subscribed with monitoring:subscribe.",
    ),
    NotificationSpec(
        "backend:collectionChanged",
        b.CollectionChangedParams,
        Direction.TO_EDITOR,
        "A subscribed collection changed (after commit).",
    ),
    *(
        NotificationSpec(name, h.ExecutionEventParams, Direction.TO_EDITOR, doc)
        for name, doc in (
            ("execution:started", "A run started (seq 1)."),
            ("execution:step", "A node of a run started or finished: nodeId, status, timings, previews."),
            ("execution:finished", "A run ended: status, duration, error."),
            (
                "execution:paused",
                "A test run paused before a node: nodeId, nodeType, inputs (port previews), reason.",
            ),
        )
    ),
    NotificationSpec(
        "github:deviceCode",
        gh.DeviceCodeParams,
        Direction.TO_EDITOR,
        "github:sign-in's code: show userCode and open verificationUri.",
    ),
    NotificationSpec(
        "github:rateLimit",
        gh.RateLimitParams,
        Direction.TO_EDITOR,
        "GitHub's quota after a github:* call (remaining, reset).",
    ),
    NotificationSpec(
        "$/progress",
        lifecycle.ProgressParams,
        Direction.TO_EDITOR,
        "Progress of a call that sent a progressToken.",
    ),
    NotificationSpec(
        "$/log", lifecycle.LogParams, Direction.TO_EDITOR, "A log record, when the editor asked for them."
    ),
    NotificationSpec(
        "$/error",
        lifecycle.ErrorEventParams,
        Direction.TO_EDITOR,
        "A notification or an undecodable message failed.",
    ),
)


def method_named(name: str) -> MethodSpec:
    for spec in METHODS:
        if spec.name == name:
            return spec
    raise KeyError(name)
