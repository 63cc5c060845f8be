"""The records store as the rest of the sidecar sees it.

Objects cross this interface as plain ``dict[str, Any]`` in Parse REST JSON encoding, exactly what the
HTTP door sends and receives:

- ``objectId`` (str), ``createdAt`` / ``updatedAt`` as bare ISO-8601 strings (``2024-05-06T07:08:09.123Z``);
- other dates as ``{"__type": "Date", "iso": ...}``, pointers as ``{"__type": "Pointer", "className",
  "objectId"}``, plus File, GeoPoint, Polygon, Bytes and Relation markers;
- ``ACL`` only when one was stored; null fields are absent.

Every call carries a :class:`CallerContext` (master, an end user with roles, or anonymous): the store applies
row ACLs and class-level permissions itself, so a door never filters results. Invisible rows look missing
(``ObjectNotFoundError``, Parse code 101).

Errors are the ``StoreError`` family of :mod:`sidecar.errors` (each knows its Parse code and HTTP status).

Three protocols, one implementation (:class:`sidecar.store.SqliteRecordStore` implements all three):

- :class:`RecordStore`: what the graph runtime's Records nodes and the Parse routes need;
- :class:`SchemaAdmin`: the ``/schemas`` API and exports (master only; the doors check the credential);
- :class:`AuthStore`: signup, login, sessions.

Opening one (the composition root does this once per backend)::

    store = await SqliteRecordStore.open(data_dir / "data" / "local.db")   # WAL file on disk
    store = await SqliteRecordStore.open(None, ephemeral=True)            # --ephemeral only
    ...
    await store.close()

``SqliteRecordStore`` also offers ``check_filter``/``matches`` for realtime subscriptions (a change record
tested against a ``where`` with exactly the query semantics, plus the subscriber's row ACL).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

JsonObject = dict[str, Any]
"""One Parse object (or any JSON object) in REST encoding."""


class CallerKind(enum.Enum):
    MASTER = "master"
    """Master key / admin token: bypasses ACL and class-level permissions."""
    USER = "user"
    """A logged-in end user (session token resolved by :meth:`AuthStore.caller_for_session`)."""
    ANONYMOUS = "anonymous"
    """No credential: sees public rows only."""


@dataclass(frozen=True)
class CallerContext:
    """Who is asking; decides row visibility (ACL) and class-level permissions."""

    kind: CallerKind
    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    """Names of every role the user holds, transitively (without the ``role:`` prefix)."""
    session_token: str | None = None

    @classmethod
    def master(cls) -> CallerContext:
        return cls(CallerKind.MASTER)

    @classmethod
    def anonymous(cls) -> CallerContext:
        return cls(CallerKind.ANONYMOUS)

    @classmethod
    def user(
        cls, user_id: str, roles: frozenset[str] = frozenset(), session_token: str | None = None
    ) -> CallerContext:
        return cls(CallerKind.USER, user_id=user_id, roles=roles, session_token=session_token)

    @property
    def is_master(self) -> bool:
        return self.kind is CallerKind.MASTER

    def principals(self) -> frozenset[str]:
        """ACL keys this caller matches: ``*``, its user id and ``role:<name>`` for each held role."""
        keys = {"*"}
        if self.user_id is not None:
            keys.add(self.user_id)
        keys.update(f"role:{name}" for name in self.roles)
        return frozenset(keys)


@dataclass(frozen=True)
class QueryOptions:
    """A find, as in ``GET /classes/C``. Build from wire parameters with
    :func:`sidecar.store.query_options_from_params`, which rejects unknown parameters with code 102."""

    where: Mapping[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    """Field names, ``-name`` for descending; unknown fields are ignored as Parse does."""
    limit: int = 100
    skip: int = 0
    keys: tuple[str, ...] | None = None
    """Fields to return (``objectId createdAt updatedAt ACL`` always come back); ``None`` = all."""
    exclude_keys: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    """Pointer paths to expand, dot-nested (``owner.team``); ``*`` expands every pointer one level."""
    count: bool = False
    """Also return the total number of matches, ignoring ``skip``/``limit``."""


@dataclass(frozen=True)
class FetchOptions:
    """Options of ``GET /classes/C/:id``."""

    keys: tuple[str, ...] | None = None
    exclude_keys: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    results: list[JsonObject]
    count: int | None = None
    """Present when :attr:`QueryOptions.count` was asked for."""

    def to_wire(self) -> JsonObject:
        body: JsonObject = {"results": self.results}
        if self.count is not None:
            body["count"] = self.count
        return body


@dataclass(slots=True)  # not frozen: built once per written row, and freezing triples that cost
class CreateResult:
    object_id: str
    created_at: str
    object: JsonObject
    """The full stored object as a read by master would return it (for events and callers that want it)."""
    shown: JsonObject | None = None
    """Server-set fields the create also answers: a new ``_Session``'s token, shown this once."""

    def to_wire(self) -> JsonObject:
        """The create response body: ``{objectId, createdAt}`` (plus :attr:`shown`)."""
        if self.shown:
            return {"objectId": self.object_id, "createdAt": self.created_at, **self.shown}
        return {"objectId": self.object_id, "createdAt": self.created_at}


@dataclass(frozen=True)
class SaveResult:
    updated_at: str
    echoed: JsonObject = field(default_factory=dict)
    """Fields changed by Increment/Add/AddUnique/Remove, with their full new value (Parse echoes them)."""
    object: JsonObject = field(default_factory=dict)
    """The full object after the save."""

    def to_wire(self) -> JsonObject:
        """The update response body: ``{updatedAt, <echoed fields>}``."""
        return {**self.echoed, "updatedAt": self.updated_at}


class BatchMethod(enum.Enum):
    CREATE = "create"
    SAVE = "save"
    DELETE = "delete"


@dataclass(slots=True)  # not frozen: a batch builds one per item, and freezing triples that cost
class BatchOp:
    """One write of a batch. ``object_id`` is required for SAVE and DELETE."""

    method: BatchMethod
    class_name: str
    body: Mapping[str, Any] = field(default_factory=dict)
    object_id: str | None = None


@dataclass(slots=True)  # not frozen: built once per written row, and freezing triples that cost
class BatchItemResult:
    """Exactly one of ``success`` (the single call's wire body) and ``error`` is set."""

    success: JsonObject | None = None
    error: Exception | None = None


class ChangeAction(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(slots=True)  # not frozen: built once per written row, and freezing triples that cost
class ChangeEvent:
    """Emitted after commit only; a rolled-back batch emits nothing.

    ``record`` is the full object after the write, or for a delete the object as it was before.
    """

    action: ChangeAction
    class_name: str
    object_id: str
    record: JsonObject
    claims: tuple[tuple[str, str], ...] = ()
    """(trigger id, claim id) of each database-change fire claimed for this change in its transaction
    (PostgreSQL replicas, ``sidecar.store.postgres.change_claims``); empty elsewhere."""

    def to_wire(self) -> JsonObject:
        """The ChangeBus shape of the contract: ``{action, collection, id, record}``."""
        return {
            "action": self.action.value,
            "collection": self.class_name,
            "id": self.object_id,
            "record": self.record,
        }


ChangeListener = Callable[[ChangeEvent], Awaitable[None] | None]
"""Called once per event, in commit order; exceptions are logged and isolated from other listeners."""


class Subscription(Protocol):
    def close(self) -> None:
        """Stop delivering events to this listener (idempotent)."""


class RecordStore(Protocol):
    """Records of one backend. All methods are coroutines safe to call concurrently."""

    async def query(self, class_name: str, options: QueryOptions, caller: CallerContext) -> QueryResult:
        """Find objects. A missing class yields no rows, an invalid class name is 103; an invalid ``where``
        raises (102, 105 or 107 as Parse answers), never widens."""
        ...

    async def count(self, class_name: str, where: Mapping[str, Any], caller: CallerContext) -> int: ...

    async def fetch(
        self, class_name: str, object_id: str, caller: CallerContext, options: FetchOptions | None = None
    ) -> JsonObject:
        """One object; missing or unreadable → ``ObjectNotFoundError`` (101)."""
        ...

    async def create(self, class_name: str, body: Mapping[str, Any], caller: CallerContext) -> CreateResult:
        """Insert; the class and new columns are created on first write with inferred types. Operators in
        ``body`` are flattened (Increment n → n, Add → the list, Delete → absent). A client ``objectId`` is
        accepted if it matches ``^[A-Za-z0-9_-]{1,128}$``; a duplicate raises ``DuplicateObjectIdError``."""
        ...

    async def save(
        self,
        class_name: str,
        object_id: str,
        body: Mapping[str, Any],
        caller: CallerContext,
        expect: Mapping[str, Any] | None = None,
    ) -> SaveResult:
        """Partial update with update operators. ``expect``: fields that must still hold these values,
        checked atomically (``PreconditionFailedError`` when they do not)."""
        ...

    async def delete(self, class_name: str, object_id: str, caller: CallerContext) -> None: ...

    async def increment(
        self, class_name: str, object_id: str, field_name: str, amount: float, caller: CallerContext
    ) -> SaveResult: ...

    async def add_relation(
        self,
        class_name: str,
        object_id: str,
        key: str,
        targets: Sequence[Mapping[str, Any]],
        caller: CallerContext,
    ) -> SaveResult:
        """Add pointers (all of one class) to the Relation field ``key``."""
        ...

    async def remove_relation(
        self,
        class_name: str,
        object_id: str,
        key: str,
        targets: Sequence[Mapping[str, Any]],
        caller: CallerContext,
    ) -> SaveResult: ...

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], caller: CallerContext
    ) -> list[JsonObject]:
        """Mongo-style pipeline (``$match $group $project $sort $limit $skip $count $unwind $sample``);
        ``$match`` only before other stages; each group's ``_id`` comes back as ``objectId``; ``$addToSet``
        yields the set of values (Parse wire decision)."""
        ...

    async def distinct(
        self, class_name: str, field_name: str, where: Mapping[str, Any], caller: CallerContext
    ) -> list[Any]:
        """Distinct non-null values of a field among matching rows (array fields contribute elements)."""
        ...

    async def batch(
        self, ops: Sequence[BatchOp], caller: CallerContext, *, transaction: bool = False
    ) -> list[BatchItemResult]:
        """Run writes in order inside one database transaction. With ``transaction=True`` the first failure
        rolls everything back and is raised; otherwise each op succeeds or fails on its own."""
        ...

    def subscribe(self, listener: ChangeListener) -> Subscription:
        """Receive every committed change of this store."""
        ...

    def visible_record(self, class_name: str, record: JsonObject, caller: CallerContext) -> JsonObject | None:
        """A change record as ``caller`` would see it in a find of its class (protectedFields and other
        users' secrets removed; ``record`` itself when nothing is), or ``None`` when the class's find
        permission, a pointer permission or the row's ACL hides it. Decided on the current permissions."""
        ...

    async def close(self) -> None:
        """Finish queued writes, then release connections."""
        ...


class SchemaAdmin(Protocol):
    """The ``/schemas`` API (master only) and exports."""

    def has_file_fields(self) -> bool:
        """Whether any class has a File field (as of the last commit): reads may then carry files."""
        ...

    async def list_schemas(self) -> list[JsonObject]:
        """``{className, fields, classLevelPermissions, indexes}`` per class, system classes included."""
        ...

    async def get_schema(self, class_name: str) -> JsonObject:
        """Missing class → ``InvalidClassNameError`` (103)."""
        ...

    async def create_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject: ...

    async def update_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject:
        """Add fields, delete fields (``{"__op": "Delete"}``), replace CLPs."""
        ...

    async def delete_class(self, class_name: str) -> None:
        """Only an empty class (255 otherwise)."""
        ...

    async def rename_field(self, class_name: str, old: str, new: str) -> JsonObject: ...

    async def change_field_type(self, class_name: str, field_name: str, new_type: str) -> JsonObject:
        """Convert stored values; values that cannot convert become null (counted in the result)."""
        ...

    async def export_schema(self, fmt: str) -> str:
        """``json``, ``postgres`` or ``supabase`` (SQL text for the last two)."""
        ...

    async def export_data(self, fmt: str) -> str:
        """``json`` (objects per class in REST encoding) or ``postgres`` (INSERT statements matching
        :meth:`export_schema` for ``postgres``/``supabase``)."""
        ...


class AuthStore(Protocol):
    """Users and sessions."""

    async def signup(self, body: Mapping[str, Any], caller: CallerContext) -> JsonObject:
        """``{objectId, createdAt, sessionToken}``; 200/201/125/202/203 errors as Parse."""
        ...

    async def login(self, username: str | None, email: str | None, password: str) -> JsonObject:
        """The full user (no password) plus ``sessionToken``; bad credentials → 101."""
        ...

    async def logout(self, session_token: str) -> None: ...

    async def caller_for_session(self, session_token: str) -> CallerContext:
        """Resolve a token to a user caller with its roles; unknown or expired → 209."""
        ...

    async def current_user(self, session_token: str) -> JsonObject:
        """``/users/me``: the user plus the same ``sessionToken``."""
        ...

    async def current_session(self, session_token: str) -> JsonObject:
        """``/sessions/me``: the caller's ``_Session`` object plus the same ``sessionToken``; unknown or
        expired → 209."""
        ...
