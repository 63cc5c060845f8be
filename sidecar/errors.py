"""One exception tree for the whole sidecar; each error knows its wire codes.

    SidecarError                      base: internal error everywhere
    ├── ProtocolError                 msgpack-RPC protocol faults (JSON-RPC/LSP codes)
    │   ├── ParseError                -32700 undecodable bytes
    │   ├── InvalidRequestError       -32600 malformed envelope, request after shutdown, oversized message
    │   ├── MethodNotFoundError       -32601
    │   ├── InvalidParamsError        -32602 (data = pydantic's error list)
    │   ├── ServerNotInitializedError -32002
    │   └── RequestCancelledError     -32800
    ├── RequestFailedError            -32803 an understood request that cannot be done
    │   ├── EditorSettingError        the editor's settings routes: SettingNotFoundError 404,
    │   │                             FeatureUnavailableError 503 (stored, no engine yet),
    │   │                             FeatureNotImplementedError 501, EmailSendError 502
    │   └── MigrationRefusedError     409 a migration to PostgreSQL refused (target not empty) or stopped
    └── StoreError                    records store; carries a Parse code
        ├── ObjectNotFoundError       101 (HTTP 404) missing or invisible object, bad credentials
        │   └── LoginFailedError      101 (HTTP 404) a wrong username or password (counted by the door)
        ├── InvalidQueryError         102
        ├── InvalidClassNameError     103
        ├── InvalidKeyNameError       105
        ├── InvalidJsonError          107 bad operator arguments
        ├── CommandUnavailableError   108 unsupported __op
        ├── IncorrectTypeError        111 schema mismatch
        ├── OperationForbiddenError   119 (HTTP 403) CLP denial
        ├── InvalidNestedKeyError     121
        ├── InvalidAclError           123
        ├── MissingRequiredFieldError 135
        ├── RequiredFieldError        142 a schema column marked required left out or unset
        ├── ImmutableFieldError       136
        ├── DuplicateValueError       137 unique index violation
        ├── InvalidRoleNameError      139
        ├── InvalidEmailError         125
        ├── UsernameMissingError      200
        ├── PasswordMissingError      201
        ├── UsernameTakenError        202
        ├── EmailTakenError           203
        ├── SessionMissingError       206
        ├── InvalidSessionTokenError  209
        ├── UnsupportedServiceError   252 authData of a provider the backend cannot verify
        ├── InvalidSchemaOperationError 255
        ├── QueryTimeoutError         124 a read ran past the store's time limit
        ├── DuplicateObjectIdError    (HTTP 409) client objectId already used
        ├── PreconditionFailedError   (HTTP 412) save `expect` no longer holds
        ├── ExportRefusedError        an export that cannot carry the schema (CANNOT_CROSS)
        ├── InvalidFileNameError      122 upload name Parse refuses
        ├── FileSaveError             130 no file storage, or the disk failed
        └── StorageError              (HTTP 500) SQLite itself failed (disk full, I/O error, locked)
    GraphRuntimeError (SidecarError)  cloud functions and their exports
        ├── WorkflowsStartingError    503 /functions before the workflows are loaded
        ├── WorkflowExportError       400 an export that cannot load (names component and node)
        ├── FunctionNotFoundError     404 no /#__cloud__/<name> component
        ├── FunctionTimeoutError      504 function/timeout, for the doors
        ├── FunctionCancelledError    499 function/cancelled: execution:cancel stopped the run
        ├── ScriptError               a JavaScript node failed; ScriptLimitError: time or memory limit
        └── EgressRefusedError        a script's request to an address the egress policy refuses
    HistoryError (SidecarError)       execution history and live events
        ├── ExecutionNotFoundError    404
        ├── InvalidHistoryQueryError  -32602 / 400 a query, cursor or Last-Event-ID never widened
        ├── InvalidMetricsQueryError  -32602 / 400 a metrics query (range, bucket, filter)
        ├── RerunUnavailableError     409 the request was not recorded in full
        ├── ExecutionNotRunningError  409 cancel of an execution that is not running (here)
        ├── ExecutionNotPausedError   409 continue/step of a run that is not paused at a breakpoint
        ├── RunFromNodeRefusedError   409 run from a node: the past run cannot stand in for upstream
        └── HistoryStorageError       500 executions.sqlite unavailable (history disabled, loudly)
    MonitoringConfigError (SidecarError) monitoring.json invalid: the backend must not start (400)
    AlertError (SidecarError)         alerting (sidecar/monitoring/alerts); ``code`` is a Parse code
        ├── InvalidAlertConfigError -32602 / 400 (142) alerts.json, a rule or channel refused (data.problems)
        └── AlertNotFoundError        404 (101) no rule or channel of that id
    TriggerError (SidecarError)       triggers: registry, schedules (HTTP 400)
        ├── TriggerFileError          triggers.json invalid: the backend must not start (data.problems)
        ├── InvalidTriggerError       -32602 a definition refused on create/update (data.problems)
        ├── TriggerNotFoundError      404
        └── InvalidCronError          unparsable cron, or no fire within 4 years
    WebError (SidecarError)           HTTP door refusals, answered {"error": message} (+ Parse code if any)
        ├── AppIdUnauthorizedError    403 missing/unknown application id or client key
        ├── MasterKeyRequiredError    403 master-only route
        ├── BadCredentialError        401 wrong master key / bearer token
        ├── AdminCredentialMissingError 401 admin route without any admin credential (not counted)
        ├── HostNotAllowedError       403 Host header not this backend (DNS rebinding)
        ├── BodyTooLargeError         413
        ├── BodyTimeoutError          408 (124) a body that stopped arriving (slow trickle): connection closed
        ├── InvalidJsonBodyError      400 (107)
        ├── UnreadableBodyError       400 broken chunked or compressed body
        ├── RouteNotFoundError        404
        ├── TooManyAttemptsError      429 (100) after repeated bad credentials (Retry-After)
        ├── UnsafeBindError           non-loopback bind without an admin token
        └── InvalidApiKeyError        401 unknown or revoked X-NodeGX-Api-Key
    SecurityError (SidecarError)      permissions, roles, API keys (HTTP 400)
        ├── SecurityFileError         security.json / api-keys.json unreadable: the backend must not start
        ├── InvalidSecurityPolicyError -32602 a policy, rule set, query or scope refused (data.problems)
        ├── RoleNotFoundError         404
        └── ApiKeyNotFoundError       404
    CredentialError (SidecarError)    the credential store (sidecar/credentials); ``code`` is a Parse code
        ├── InvalidCredentialError    -32602 / 400 (142) a name, provider or value refused
        ├── CredentialNotFoundError   404 (101) no stored credential and no environment variable
        ├── CredentialExistsError     409 (137) create over an existing name without ``replace``
        └── CredentialKeyError        409 (1) the encryption key is missing, unreadable or not the one used
    DeployError (SidecarError)        deploy bundles and build contexts (sidecar/deploy)
        └── BundleLeakError           409 a secret value found in a file meant for the bundle
    GitHubError (SidecarError)        the GitHub service (sidecar/github); 502 when GitHub answered oddly
        ├── GitRepositoryError        400 not a git work tree, no remote, or git itself missing
        ├── GitHubSignInError         400 the device flow ended without a token (expired, denied, refused)
        ├── GitHubAuthError           401 not signed in, or the token was refused (revoked): sign in again
        ├── GitHubNotFoundError       404 no such repository, issue or pull request (or no access)
        └── GitHubRateLimitError      429 quota spent, or a secondary limit still hit after one retry

The doors translate these into their wire shapes; this module imports nothing so any
layer may raise them.
"""

from __future__ import annotations

from typing import Any


class SidecarError(Exception):
    """Base of every error the sidecar raises on purpose."""

    rpc_code: int = -32603
    http_status: int = 500

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ProtocolError(SidecarError):
    """A fault of the msgpack-RPC conversation itself."""


class ParseError(ProtocolError):
    rpc_code = -32700


class InvalidRequestError(ProtocolError):
    rpc_code = -32600
    http_status = 400


class MethodNotFoundError(ProtocolError):
    rpc_code = -32601
    http_status = 404


class InvalidParamsError(ProtocolError):
    rpc_code = -32602
    http_status = 400


class ServerNotInitializedError(ProtocolError):
    rpc_code = -32002


class RequestCancelledError(ProtocolError):
    rpc_code = -32800


class RequestFailedError(SidecarError):
    """The request was understood but cannot be carried out (e.g. the backend is stopped)."""

    rpc_code = -32803
    http_status = 400


class StoreError(SidecarError):
    """A records-store failure with its Parse error code; HTTP 400 unless the subclass says otherwise."""

    rpc_code = -32803
    http_status = 400
    parse_code: int = 1

    def to_parse_body(self) -> dict[str, Any]:
        return {"code": self.parse_code, "error": self.message}


class ObjectNotFoundError(StoreError):
    parse_code = 101
    http_status = 404

    def __init__(self, message: str = "Object not found.") -> None:
        super().__init__(message)


class LoginFailedError(ObjectNotFoundError):
    """A login whose username or password is wrong: answered as Parse does (404/101), and counted by the
    HTTP door's failed-credential limiter per client address and account (``account``: the username or
    email tried), so one account's password cannot be guessed at full speed while a client that mistypes
    several accounts' passwords (a test suite, a shared office address) is not locked out of the rest."""

    def __init__(self, message: str = "Object not found.", account: str = "") -> None:
        super().__init__(message)
        self.account = account


class InvalidQueryError(StoreError):
    parse_code = 102


class InvalidClassNameError(StoreError):
    parse_code = 103


class InvalidKeyNameError(StoreError):
    parse_code = 105


class InvalidJsonError(StoreError):
    parse_code = 107


class CommandUnavailableError(StoreError):
    parse_code = 108


class IncorrectTypeError(StoreError):
    parse_code = 111


class OperationForbiddenError(StoreError):
    parse_code = 119
    http_status = 403


class InvalidNestedKeyError(StoreError):
    parse_code = 121


class InvalidAclError(StoreError):
    parse_code = 123


class InvalidEmailError(StoreError):
    parse_code = 125


class MissingRequiredFieldError(StoreError):
    parse_code = 135


class RequiredFieldError(StoreError):
    """A record without a value for a column its schema marks ``required`` (Parse's VALIDATION_ERROR)."""

    parse_code = 142

    def __init__(self, field_name: str) -> None:
        super().__init__(f"{field_name} is required", data={"field": field_name})


class ImmutableFieldError(StoreError):
    parse_code = 136


class DuplicateValueError(StoreError):
    parse_code = 137


class InvalidRoleNameError(StoreError):
    parse_code = 139


class UsernameMissingError(StoreError):
    parse_code = 200


class PasswordMissingError(StoreError):
    parse_code = 201


class UsernameTakenError(StoreError):
    parse_code = 202


class EmailTakenError(StoreError):
    parse_code = 203


class SessionMissingError(StoreError):
    parse_code = 206


class InvalidSessionTokenError(StoreError):
    parse_code = 209


class UnsupportedServiceError(StoreError):
    """``authData`` for a provider the backend cannot verify (Parse's UNSUPPORTED_SERVICE)."""

    parse_code = 252


class InvalidSchemaOperationError(StoreError):
    parse_code = 255


class QueryTimeoutError(StoreError):
    """A read ran longer than the store allows (Parse's TIMEOUT code)."""

    parse_code = 124


class DuplicateObjectIdError(StoreError):
    """The built backend answers 409 for a client-chosen objectId already in use."""

    parse_code = 137
    http_status = 409


class PreconditionFailedError(StoreError):
    """A save's ``expect`` fields no longer hold; distinct from not-found."""

    parse_code = 142
    http_status = 412


class StorageError(StoreError):
    """The database engine failed; sqlite3 errors are translated to this where they enter the store."""

    parse_code = 1
    http_status = 500


class ExportRefusedError(StoreError):
    """An export target cannot carry part of the schema (the contract's CANNOT_CROSS)."""

    parse_code = 1


# --- cloud-function runtime (sidecar/runtime) ---------------------------------------------------


class GraphRuntimeError(SidecarError):
    """Base of the cloud-function graph runtime's errors."""


class WorkflowsStartingError(GraphRuntimeError):
    """``/functions`` before the backend's workflows are loaded."""

    http_status = 503
    rpc_code = -32803

    def __init__(self) -> None:
        super().__init__("Workflows are still starting up")


class WorkflowExportError(GraphRuntimeError):
    """A deploy export that cannot be loaded; names the component and node at fault."""

    http_status = 400

    def __init__(self, message: str, *, component: str | None = None, node: str | None = None) -> None:
        where = "".join(
            [f" in component {component!r}" if component else "", f" at node {node!r}" if node else ""]
        )
        super().__init__(message + where, data={"component": component, "node": node})
        self.component = component
        self.node = node


class FunctionNotFoundError(GraphRuntimeError):
    """No ``/#__cloud__/<name>`` component in the loaded export."""

    http_status = 404
    code = "function/not-found"

    @classmethod
    def for_function(cls, name: str) -> FunctionNotFoundError:
        """The one wording every door uses."""
        return cls(f"Function '{name}' not found")


class FunctionTimeoutError(GraphRuntimeError):
    """No Response node answered within the function's time limit."""

    http_status = 504
    code = "function/timeout"


class FunctionCancelledError(GraphRuntimeError):
    """The run was stopped by ``execution:cancel``: its caller's answer. 499 is the status nginx gave
    a request closed before its answer ("client closed request"); here the closing side is the editor."""

    http_status = 499
    code = "function/cancelled"


class ScriptError(GraphRuntimeError):
    """A script in an Expression or Function node threw, or hit its time or memory limit."""

    code = "function/script-error"


class ScriptLimitError(ScriptError):
    """A script hit its time or memory limit; the run fails instead of hanging."""


class EgressRefusedError(GraphRuntimeError):
    """A ``fetch`` or REST request to an address the egress policy refuses (``sidecar.runtime.egress``):
    a cloud metadata endpoint, the sidecar's own port, or, deployed, a private address."""

    code = "function/egress-refused"


class InvalidFileNameError(StoreError):
    """A file name Parse refuses (empty, too long, or with characters outside its allowed set)."""

    parse_code = 122


class FileSaveError(StoreError):
    """A file upload that cannot be stored (no file storage configured, or the disk failed)."""

    parse_code = 130


# --- HTTP door (sidecar/web): {"error"} answers, with a Parse code where Parse has one -------------


class WebError(SidecarError):
    """A refusal of the HTTP door itself; answered as ``{"error": message}`` with ``http_status``."""

    http_status = 400


class AppIdUnauthorizedError(WebError):
    """Missing or unknown application id (or client key): Parse's bare 403 ``unauthorized``."""

    http_status = 403

    def __init__(self) -> None:
        super().__init__("unauthorized")


class MasterKeyRequiredError(WebError):
    """A master-only route called without the master key."""

    http_status = 403

    def __init__(self) -> None:
        super().__init__("unauthorized: master key is required")


class BadCredentialError(WebError):
    """An admin credential (master key, bearer token) that does not match: never downgraded to anonymous."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("Unauthorized.")


class AdminCredentialMissingError(WebError):
    """An admin-only route called without any admin credential: 401 as for a wrong one, but nothing was
    guessed, so the failed-credential limiter does not count it."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("Unauthorized.")


class HostNotAllowedError(WebError):
    """A ``Host`` header naming another host: the request came through DNS rebinding or a proxy."""

    http_status = 403


class BodyTooLargeError(WebError):
    """A request body over the JSON or file limit."""

    http_status = 413

    def __init__(self) -> None:
        super().__init__("Request body too large")


class BodyTimeoutError(WebError, TimeoutError):
    """A request body that arrives slower than the door's minimum rate (``sidecar.web.body_deadline``):
    Parse's TIMEOUT, and the connection is closed. Also a ``TimeoutError``, which is what aiohttp expects
    of a body read that gave up: after the answer it stops draining the body instead of logging it as an
    unhandled exception."""

    http_status = 408
    code = 124

    def __init__(self) -> None:
        super().__init__("The request body arrived too slowly")


class InvalidJsonBodyError(WebError):
    """A body that is not a JSON object: Parse's INVALID_JSON."""

    code = 107

    def __init__(self) -> None:
        super().__init__("Invalid JSON body")


class UnreadableBodyError(WebError):
    """A body whose transfer or content encoding is broken (bad chunks, a gzip body that is not gzip)."""

    def __init__(self) -> None:
        super().__init__("The request body could not be read.")


class RouteNotFoundError(WebError):
    http_status = 404


class UnsafeBindError(WebError):
    """Refusal to listen on a non-loopback address without an admin token."""


# --- execution history (sidecar/history, sidecar/events) ----------------------------------------


class HistoryError(SidecarError):
    """Base of the execution-history errors (``executions.sqlite``, queries, live events)."""

    rpc_code = -32803
    http_status = 400


class ExecutionNotFoundError(HistoryError):
    """No execution with that id (deleted, pruned by retention, or never recorded)."""

    http_status = 404

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"execution not found: {execution_id}", data={"executionId": execution_id})


class InvalidHistoryQueryError(HistoryError):
    """An ExecutionQuery, filter, cursor or Last-Event-ID that cannot be honoured; never widened to "all"."""

    rpc_code = -32602


class InvalidMetricsQueryError(HistoryError):
    """A ``monitoring:metrics`` / ``GET /admin/metrics`` query that cannot be honoured."""

    rpc_code = -32602


class MonitoringConfigError(SidecarError):
    """``monitoring.json`` is not a valid monitoring configuration; the backend refuses to start."""

    rpc_code = -32602
    http_status = 400


class AlertError(SidecarError):
    """Base of alerting's errors; ``code`` is the Parse error code the HTTP door shows."""

    rpc_code = -32803
    http_status = 400
    code = 1


class InvalidAlertConfigError(AlertError):
    """``alerts.json``, or a rule or channel sent to be saved, is not valid; nothing was changed (an invalid
    file found at start refuses the backend's start, as ``triggers.json`` does)."""

    rpc_code = -32602
    code = 142

    def __init__(self, message: str, problems: list[str]) -> None:
        # The problems are in the message too: the HTTP door answers only {error, code}.
        super().__init__(f"{message}: {'; '.join(problems)}", data={"problems": problems})


class AlertNotFoundError(AlertError):
    http_status = 404
    code = 101

    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"{kind} not found: {item_id}", data={"id": item_id})


class RerunUnavailableError(HistoryError):
    """A past execution whose recorded request cannot be replayed.

    The request was truncated or unparsable, or the execution was not a function run."""

    http_status = 409


class ExecutionNotPausedError(HistoryError):
    """``execution:continue`` / ``execution:step`` for a run that is not paused at a breakpoint."""

    http_status = 409

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"execution is not paused: {execution_id}", data={"executionId": execution_id})


class RunFromNodeRefusedError(HistoryError):
    """``execution:run-from``: the past execution cannot stand in for the nodes upstream of the chosen
    one (an output cut by history limits, a node that cannot be resumed, a step that failed)."""

    http_status = 409


class ExecutionNotRunningError(HistoryError):
    """A cancel for an execution that has already finished (or runs in no backend of this process)."""

    http_status = 409

    def __init__(self, execution_id: str, status: str | None = None) -> None:
        detail = f" (status {status})" if status else ""
        super().__init__(
            f"execution is not running: {execution_id}{detail}",
            data={"executionId": execution_id, "status": status},
        )


class HistoryStorageError(HistoryError):
    """SQLite failed under ``executions.sqlite``; sqlite3 errors are translated to this where they enter."""

    http_status = 500


# --- triggers (sidecar/triggers) ----------------------------------------------------------------


class TriggerError(SidecarError):
    """Base of the trigger registry's and scheduler's errors."""

    rpc_code = -32803
    http_status = 400


class TriggerFileError(TriggerError):
    """``triggers.json`` is invalid: the backend must not start. ``data`` lists every problem."""

    def __init__(self, path: str, problems: list[str]) -> None:
        listing = "; ".join(problems)
        super().__init__(
            f"invalid triggers file {path}: {listing}", data={"path": path, "problems": problems}
        )
        self.problems = problems


class InvalidTriggerError(TriggerError):
    """A trigger definition refused on create/update; ``data`` lists every problem."""

    rpc_code = -32602

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid trigger: " + "; ".join(problems), data={"problems": problems})
        self.problems = problems


class TriggerNotFoundError(TriggerError):
    http_status = 404

    def __init__(self, trigger_id: str) -> None:
        super().__init__(f"trigger not found: {trigger_id}", data={"triggerId": trigger_id})


class InvalidCronError(TriggerError):
    """A cron expression that cannot be parsed, or that has no fire within the 4-year horizon."""


class TooManyAttemptsError(WebError):
    """A client that sent too many bad credentials; answered 429 with ``Retry-After`` and the code Parse
    Server's rate limiter answers (CONNECTION_FAILED)."""

    http_status = 429
    code = 100

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many failed credential attempts. Try again in {retry_after_seconds}s.")
        self.retry_after_seconds = retry_after_seconds


# --- security: permissions, roles, API keys (sidecar/backends/security.py) ----------------------


class SecurityError(SidecarError):
    """Base of the security service's errors (security.json, roles, API keys)."""

    rpc_code = -32803
    http_status = 400


class SecurityFileError(SecurityError):
    """``security.json`` or ``api-keys.json`` cannot be read: the backend must not start (failing open
    would serve every collection and function without the rules the user wrote)."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(
            f"invalid security file {path}: " + "; ".join(problems), data={"path": path, "problems": problems}
        )
        self.problems = problems


class InvalidSecurityPolicyError(SecurityError):
    """A permissions policy, collection rule set, access query or key scope refused; ``data`` lists every
    problem, each naming the bad key."""

    rpc_code = -32602

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid security settings: " + "; ".join(problems), data={"problems": problems})
        self.problems = problems


class RoleNotFoundError(SecurityError):
    http_status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"role not found: {name}", data={"role": name})


class ApiKeyNotFoundError(SecurityError):
    http_status = 404

    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key not found: {key_id}", data={"keyId": key_id})


class InvalidApiKeyError(WebError):
    """An ``X-NodeGX-Api-Key`` that is unknown or revoked: 401, never downgraded to anonymous."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("Invalid or revoked API key.")


class MigrationRefusedError(RequestFailedError):
    """``migrate`` / ``backend:migrate-to-postgres`` cannot start: the target holds data and resuming was
    not asked for, the backend is running, there is nothing to migrate, or the server cannot be used."""

    http_status = 409


class EditorSettingError(RequestFailedError):
    """A request of the editor's settings routes (``/admin/search``, ``/admin/auth``, ``/admin/email``,
    ``/admin/workflow-defs``…) that cannot be carried out; the subclass says which HTTP status."""


class SettingNotFoundError(EditorSettingError):
    http_status = 404


class FeatureUnavailableError(EditorSettingError):
    """The setting is stored, but this backend has no engine to honour it (yet)."""

    http_status = 503


class FeatureNotImplementedError(EditorSettingError):
    """The route exists so the editor gets a clear answer; the backend cannot do this (yet)."""

    http_status = 501


class EmailSendError(EditorSettingError):
    """The mail server refused or could not be reached."""

    http_status = 502


# --- credentials (sidecar/credentials) and deploy bundles (sidecar/deploy) ---------------------------


class CredentialError(SidecarError):
    """Base of the credential store's errors; ``code`` is the Parse error code the HTTP door shows."""

    rpc_code = -32803
    http_status = 400
    code = 1


class InvalidCredentialError(CredentialError):
    rpc_code = -32602
    code = 142

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid credential: {problem}", data={"problem": problem})


class CredentialNotFoundError(CredentialError):
    http_status = 404
    code = 101

    def __init__(self, name: str, tried: list[str] | None = None) -> None:
        where = f" (nor environment variable {' or '.join(tried)})" if tried else ""
        super().__init__(f"credential not found: {name}{where}", data={"name": name, "env": tried or []})


class CredentialExistsError(CredentialError):
    http_status = 409
    code = 137

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a credential named {name} already exists (pass replace: true to overwrite it)",
            data={"name": name},
        )


class CredentialKeyError(CredentialError):
    """The key that decrypts a backend's credentials is missing, malformed or not the one they were
    encrypted with; the message names where the key was looked for and how to supply it. 409, not 500:
    the request is fine and nothing crashed, the machine's key does not match the file (retrying won't
    help; restoring the key will)."""

    http_status = 409
    code = 1


class DeployError(SidecarError):
    """Base of the deploy bundle's and build context's errors."""

    rpc_code = -32803
    http_status = 400


class BundleLeakError(DeployError):
    """A secret value (admin token, credential, webhook secret, master-key-only parameter) appears in a
    file meant for the bundle: nothing is written. ``data.files`` names the files and the kinds, never
    the values."""

    http_status = 409

    def __init__(self, leaks: list[dict[str, str]]) -> None:
        shown = ", ".join(f"{leak['file']} ({leak['kind']})" for leak in leaks)
        super().__init__(f"bundle refused: secret values found in {shown}", data={"files": leaks})


class DeployStageError(DeployError):
    """A deploy stage failed (``data.stage`` names it: validate, build, push, release, health, record);
    the previous release keeps serving. The message says why, never a token or a secret value."""

    http_status = 502

    def __init__(self, stage: str, message: str, *, data: Any = None) -> None:
        super().__init__(f"deploy failed at stage {stage}: {message}", data={"stage": stage, **(data or {})})
        self.stage = stage
        self.reason = message


class ProviderApiError(DeployError):
    """A provider's API refused a call (its status and its own error text, token redacted)."""

    http_status = 502

    def __init__(self, provider: str, status: int, message: str) -> None:
        super().__init__(f"{provider} API answered {status}: {message}", data={"status": status})
        self.status = status


class ReleaseNotFoundError(DeployError):
    http_status = 404


class GitHubError(SidecarError):
    """Base of the GitHub service's errors; a bare one means GitHub answered something unexpected."""

    rpc_code = -32803
    http_status = 502


class GitRepositoryError(GitHubError):
    http_status = 400


class GitHubSignInError(GitHubError):
    """``data.reason`` is the device flow's error code (``expired_token``, ``access_denied``, …)."""

    http_status = 400

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, data={"reason": reason})


class GitHubAuthError(GitHubError):
    http_status = 401


class GitHubNotFoundError(GitHubError):
    http_status = 404


class GitHubRateLimitError(GitHubError):
    """``data`` carries ``remaining``, ``reset`` (epoch seconds) and ``retryAfter`` when GitHub sent them."""

    http_status = 429
