"""PostgresRecordStore: the records store of a backend on a PostgreSQL server (asyncpg).

It implements the same three protocols as :class:`sidecar.store.SqliteRecordStore` (``RecordStore``,
``SchemaAdmin``, ``AuthStore``) with the same rules, which it takes from the shared modules rather than
copying them: body splitting and update operators (:mod:`sidecar.store.records`,
:mod:`sidecar.store.updates`),
the write rules (:mod:`sidecar.store.writes`: client ids, owners, default ACLs, preconditions, dot keys),
special classes, sessions, passwords, CLPs, presentation and projection (:mod:`sidecar.store.reads`). What is
PostgreSQL's own is storage (:mod:`.tables`), the ``where`` compiler (:mod:`.where`) and transactions: each
write runs in one transaction on a pooled connection (:mod:`.pool`), a batch item without ``transaction``
in a savepoint.

Schemas are cached per process and written through in the transaction that changes them; events are
published after the commit only.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import asyncpg
import orjson

from sidecar.errors import (
    CommandUnavailableError,
    DuplicateObjectIdError,
    DuplicateValueError,
    EmailTakenError,
    IncorrectTypeError,
    InvalidClassNameError,
    InvalidEmailError,
    InvalidJsonError,
    InvalidQueryError,
    InvalidSchemaOperationError,
    InvalidSessionTokenError,
    ObjectNotFoundError,
    OperationForbiddenError,
    PasswordMissingError,
    UsernameMissingError,
    UsernameTakenError,
)
from sidecar.store import acl, clp, passwords, query_limits, sessions, special_classes
from sidecar.store import aggregate as aggregation
from sidecar.store.catalog import PRECREATED
from sidecar.store.changes import ChangeBus
from sidecar.store.codec import format_iso, from_sql, now_iso
from sidecar.store.interface import (
    BatchItemResult,
    BatchMethod,
    BatchOp,
    CallerContext,
    ChangeAction,
    ChangeEvent,
    ChangeListener,
    CreateResult,
    FetchOptions,
    JsonObject,
    QueryOptions,
    QueryResult,
    SaveResult,
    Subscription,
)
from sidecar.store.matcher import RecordMatcher
from sidecar.store.names import validate_class_name
from sidecar.store.postgres import create_batches, notify
from sidecar.store.postgres import where as pgwhere
from sidecar.store.postgres.create_batches import INSERT, CreateBatches, PendingCreate
from sidecar.store.postgres.pool import ConnectionPool, bootstrap
from sidecar.store.postgres.tables import BOOTSTRAP, UNIQUE_ERRORS
from sidecar.store.postgres.where import RECORDS, RELATIONS, Params
from sidecar.store.reads import include_paths, pointers_in, present, presenter, swap_included
from sidecar.store.realtime_filters import RealtimeFilters
from sidecar.store.records import encode, field_spec_for, project, split_body
from sidecar.store.relation_edits import RelationEdits
from sidecar.store.schema import SYSTEM_FIELDS, ClassSchema, FieldSchema
from sidecar.store.updates import RelationChange
from sidecar.store.writes import (
    acl_for_create,
    check_expectations,
    check_new_role,
    check_required_kept,
    client_object_id,
    creator_owner,
    fill_defaults_and_check_required,
    new_values,
    password_value,
    uuid4_text,
)

T = TypeVar("T")
Events = list[ChangeEvent]
_MASTER = CallerContext.master()
_EMAIL_CHECK = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"


async def _init_connection(connection: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await connection.set_type_codec(
            name,
            encoder=lambda value: value if isinstance(value, str) else orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class ChangeClaimWriter(Protocol):
    """Claims database-change fires inside a write's transaction (``change_claims.PostgresChangeClaims``)."""

    async def record(
        self, connection: asyncpg.Connection, claimed: Sequence[tuple[ChangeEvent, Sequence[str]]]
    ) -> None: ...

    def insert_statement(
        self, claimed: Sequence[tuple[ChangeEvent, Sequence[str]]], first: int
    ) -> tuple[str, list[Any]] | None: ...


def _no_triggers(_event: ChangeEvent) -> Sequence[str]:
    return ()


class _NeedsTransaction(Exception):
    """The create cannot be one statement (see ``PostgresRecordStore._create_in_one_statement``)."""


class _InsertRecorder:
    """Stands in for the connection while a create is tried as one statement: it keeps the one row INSERT's
    row to send later; any other call means the create needs a transaction."""

    def __init__(self) -> None:
        self.row: tuple[Any, ...] | None = None

    async def execute(self, statement: str, *args: Any) -> str:
        if self.row is None and statement == INSERT:
            try:  # the document as it is now (the create goes on to decorate it for its answer)
                self.row = create_batches.row(args)
            except orjson.JSONEncodeError as exc:  # a lone surrogate: PostgreSQL's JSON cannot hold it
                raise InvalidJsonError(f"invalid value: {exc}") from exc
            return "INSERT 0 1"
        raise _NeedsTransaction

    async def fetchval(self, *_: Any) -> Any:
        raise _NeedsTransaction

    async def fetchrow(self, *_: Any) -> Any:
        raise _NeedsTransaction

    async def fetch(self, *_: Any) -> Any:
        raise _NeedsTransaction


@dataclass
class _Tx:
    """One write transaction: its connection, the schemas as it sees them, its caller and instant."""

    connection: asyncpg.Connection | _InsertRecorder
    schemas: dict[str, ClassSchema]
    caller: CallerContext
    allow_class_creation: bool
    session_lifetime: timedelta
    changed_schemas: bool = False
    """Whether :attr:`schemas` differs from the cache (written here, or found newer in the database)."""
    wrote_schema: bool = False
    """Whether this transaction changed a schema (other replicas are told at commit)."""
    touched: set[str] = field(default_factory=set)
    """Classes whose schema this transaction wrote or read fresh; only they update the cache."""
    _now: str | None = None
    events: Events = field(default_factory=list)

    def now(self) -> str:
        if self._now is None:
            self._now = now_iso()
        return self._now

    def as_master(self) -> _Tx:
        return replace(self, caller=_MASTER)

    async def save_schema(self, schema: ClassSchema) -> ClassSchema:
        await self.connection.execute(
            "INSERT INTO noodl_schema (class_name, schema) VALUES ($1, $2) "
            "ON CONFLICT (class_name) DO UPDATE SET schema = excluded.schema",
            schema.class_name,
            schema.to_wire(),
        )
        self.schemas[schema.class_name] = schema
        self.changed_schemas = self.wrote_schema = True
        self.touched.add(schema.class_name)
        return schema

    async def latest(self, class_name: str) -> ClassSchema | None:
        """The class's schema as committed, locked for this transaction: another replica may have changed
        it since this process cached it, and two writers must not both extend a stale copy."""
        await self.connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext('noodl_schema:' || $1::text))", class_name
        )
        stored = await self.connection.fetchval(
            "SELECT schema FROM noodl_schema WHERE class_name = $1", class_name
        )
        self.touched.add(class_name)
        if stored is None:
            self.changed_schemas = self.schemas.pop(class_name, None) is not None or self.changed_schemas
            return None
        schema = ClassSchema.from_stored(stored)
        if self.schemas.get(class_name) != schema:
            self.schemas[class_name] = schema
            self.changed_schemas = True
        return schema

    async def ensure_class(self, class_name: str) -> ClassSchema:
        existing = self.schemas.get(class_name) or await self.latest(class_name)
        return existing if existing else await self.save_schema(ClassSchema.new(class_name))

    async def schema_for_write(self, class_name: str) -> ClassSchema:
        validate_class_name(class_name)
        schema = self.schemas.get(class_name) or await self.latest(class_name)
        if schema is not None:
            return schema
        if not (self.caller.is_master or self.allow_class_creation):
            raise OperationForbiddenError(
                f"This user is not allowed to access non-existent class: {class_name}"
            )
        return await self.ensure_class(class_name)

    async def ensure_field(self, schema: ClassSchema, name: str, spec: FieldSchema) -> ClassSchema:
        existing = schema.fields.get(name)
        if existing is None:  # perhaps added by another replica: decide on the committed schema
            schema = await self.latest(schema.class_name) or schema
            existing = schema.fields.get(name)
        if existing is not None:
            if existing.type != spec.type:
                raise IncorrectTypeError(
                    f"schema mismatch for {schema.class_name}.{name}; "
                    f"expected {existing.type} but got {spec.type}"
                )
            return schema
        clp.check(schema.clp, "addField", self.caller, schema.class_name)
        return await self.save_schema(schema.with_field(name, spec))


def _stored_value(schema: ClassSchema, name: str, value: Any) -> Any:
    """A field value as the document keeps it (None for null: the field is then absent): the SQLite
    store's column encoding decoded back, so both stores answer the very same REST values (normalised
    dates, bare pointers, integral numbers)."""
    spec = schema.fields[name]
    if value is None:
        return None
    return from_sql(spec.type, encode(schema, name, value), spec.target_class)


def _perm_lists(
    acl_value: Mapping[str, Mapping[str, bool]] | None,
) -> tuple[list[str] | None, list[str] | None]:
    if acl_value is None:
        return None, None
    readers = sorted(k for k, p in acl_value.items() if p.get("read"))
    writers = sorted(k for k, p in acl_value.items() if p.get("write"))
    return readers, writers


def _acl_of(rperm: list[str] | None, wperm: list[str] | None) -> dict[str, dict[str, bool]] | None:
    if rperm is None and wperm is None:
        return None
    result: dict[str, dict[str, bool]] = {}
    for key in rperm or []:
        result.setdefault(key, {})["read"] = True
    for key in wperm or []:
        result.setdefault(key, {})["write"] = True
    return result


_EXACT_INTEGERS = 2**53


def _decode(schema: ClassSchema | None, doc: dict[str, Any]) -> dict[str, Any]:
    if schema is not None:
        for name, spec in schema.relations().items():
            doc[name] = {"__type": "Relation", "className": spec.target_class}
        for name, field_schema in schema.fields.items():
            value = doc.get(name)
            # Numbers are doubles: JSONB gives a double past 2**53 back as the integer of its decimal
            # text, which is not the double written; read it as that double, as the SQLite store does.
            if field_schema.type == "Number" and type(value) is int and abs(value) >= _EXACT_INTEGERS:
                doc[name] = float(value)
    return doc


def _unique_error(exc: asyncpg.UniqueViolationError, class_name: str, object_id: str) -> Exception:
    guarded = UNIQUE_ERRORS.get(exc.constraint_name or "")
    if guarded == "objectId":
        return DuplicateObjectIdError(f'objectId "{object_id}" is already used in "{class_name}".')
    if guarded == "username":
        return UsernameTakenError("Account already exists for this username.")
    if guarded == "email":
        return EmailTakenError("Account already exists for this email address.")
    return DuplicateValueError(
        "A duplicate value for a field with unique values was provided",
        data={"collection": class_name, "fields": [guarded or "unknown"]},
    )


class PostgresRecordStore(RelationEdits, RealtimeFilters):
    """The records of one backend in a PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        pool: ConnectionPool,
        schemas: dict[str, ClassSchema],
        *,
        allow_client_class_creation: bool,
        session_lifetime: timedelta,
    ) -> None:
        self.url = ""
        self._pool = pool
        self._schemas = schemas
        self._bus = ChangeBus()
        """Every committed change of the backend, whichever replica made it (realtime subscribers)."""
        self._local_bus = ChangeBus()
        """This replica's own changes only (database triggers: each change fires on one replica)."""
        self.replica_id = notify.new_replica_id()
        self._listener: notify.Listener | None = None
        self._allow_class_creation = allow_client_class_creation
        self._session_lifetime = session_lifetime
        self._matcher = RecordMatcher()
        self._change_claims: ChangeClaimWriter | None = None
        self._claimed_triggers: Callable[[ChangeEvent], Sequence[str]] = _no_triggers
        self._file_fields_of: dict[str, ClassSchema] | None = None
        self._file_fields = False
        self._creates = CreateBatches(pool, self.replica_id, self._claims_statement, self._publish)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        read_time_limit: float = 10.0,
        allow_client_class_creation: bool = True,
        session_lifetime: timedelta = sessions.DEFAULT_SESSION_LIFETIME,
    ) -> PostgresRecordStore:
        """Connect to ``url`` (``postgres://…``), create the tables when missing, load the schemas.
        ``read_time_limit`` is every statement's timeout (a runaway regex stops there)."""
        pool = await ConnectionPool.open(
            url,
            size=pool_size,
            init=_init_connection,
            server_settings={"statement_timeout": str(int(read_time_limit * 1000))},
        )
        await bootstrap(pool, 727100021, (*BOOTSTRAP, *notify.BOOTSTRAP))
        store = cls(
            pool,
            {},
            allow_client_class_creation=allow_client_class_creation,
            session_lifetime=session_lifetime,
        )
        store.url = url
        await store.reload_schemas()
        store._listener = notify.Listener(
            url, store.replica_id, store._bus.emit, store.reload_schemas, store._logged_announcement
        )
        await store._listener.start()

        async def precreate(tx: _Tx) -> tuple[None, Events]:
            for class_name in PRECREATED:
                await tx.ensure_class(class_name)
            return None, []

        await store._write(_MASTER, precreate)
        return store

    async def reload_schemas(self) -> None:
        """Read every class's schema again (another replica may have changed one)."""
        rows = await self._pool.fetch("SELECT schema FROM noodl_schema")
        self._schemas = {s.class_name: s for s in (ClassSchema.from_stored(row["schema"]) for row in rows)}

    async def _schema_of(self, class_name: str) -> ClassSchema | None:
        """The cached schema; on a miss, the committed ones read again (another replica may have created
        the class since this one cached them)."""
        schema = self._schemas.get(class_name)
        if schema is None:
            await self.reload_schemas()
            schema = self._schemas.get(class_name)
        return schema

    async def _logged_announcement(self, entry: int) -> Any:
        return await self._pool.fetchval("SELECT payload FROM noodl_change_log WHERE id = $1", entry)

    async def listen(self, channel: str, handler: Callable[[str | None], Awaitable[None]]) -> None:
        """Hear ``channel``'s notifications on the store's LISTEN connection (see :mod:`.notify`)."""
        assert self._listener is not None, "the store is open"
        await self._listener.add_channel(channel, handler)

    async def close(self) -> None:
        await self._creates.close()
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()
        await self._bus.drain()
        await self._local_bus.drain()
        self._matcher.close()

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (schedule claims and shared bundles use it too)."""
        return self._pool

    @property
    def write_queue_depth(self) -> int:
        """Writes waiting for a connection (``/metrics`` shows it; the pool queues them itself)."""
        return 0

    def schemas(self) -> Mapping[str, ClassSchema]:
        return self._schemas

    def has_file_fields(self) -> bool:
        schemas = self._schemas
        if self._file_fields_of is not schemas:  # the door asks on every request: once per schema set
            self._file_fields_of = schemas
            self._file_fields = any(f.type == "File" for c in schemas.values() for f in c.fields.values())
        return self._file_fields

    def claim_changes(
        self, writer: ChangeClaimWriter, triggers_for: Callable[[ChangeEvent], Sequence[str]]
    ) -> None:
        """From now on, claim a database-change fire of each trigger ``triggers_for`` names for a change,
        in the change's own transaction (``sidecar.store.postgres.change_claims``)."""
        self._change_claims = writer
        self._claimed_triggers = triggers_for

    # ---- plumbing -------------------------------------------------------------------------------------

    async def _write(self, caller: CallerContext, fn: Callable[[_Tx], Awaitable[tuple[T, Events]]]) -> T:
        async with self._pool.acquire() as connection:
            tx = _Tx(
                connection, dict(self._schemas), caller, self._allow_class_creation, self._session_lifetime
            )
            try:
                async with connection.transaction():
                    result, events = await fn(tx)
                    if self._change_claims is not None and events:
                        await self._claim_fires(connection, self._change_claims, events)
                    await notify.announce(connection, self.replica_id, events, tx.wrote_schema)
            except asyncpg.QueryCanceledError as exc:
                raise InvalidQueryError("The query took too long and was stopped.") from exc
            except asyncpg.DataError as exc:  # a value PostgreSQL cannot take (an unpaired surrogate)
                raise InvalidJsonError(f"invalid value: {exc}") from exc
        if tx.changed_schemas:
            merged = dict(self._schemas)
            for name in tx.touched:
                if name in tx.schemas:
                    merged[name] = tx.schemas[name]
                else:
                    merged.pop(name, None)
            self._schemas = merged
        self._publish(events)
        return result

    def _claims_statement(self, events: Sequence[ChangeEvent], first: int) -> tuple[str, list[Any]] | None:
        """The statement claiming ``events``' database-change fires, beside a group of creates."""
        if self._change_claims is None:
            return None
        return self._change_claims.insert_statement(
            [(event, self._claimed_triggers(event)) for event in events], first
        )

    def _publish(self, events: Events) -> None:
        """After the commit: this replica's triggers, then every subscriber."""
        self._local_bus.emit(events)
        self._bus.emit(events)

    async def _claim_fires(
        self, connection: asyncpg.Connection, writer: ChangeClaimWriter, events: Events
    ) -> None:
        claimed = [(event, self._claimed_triggers(event)) for event in events]
        if any(trigger_ids for _, trigger_ids in claimed):
            await writer.record(connection, claimed)

    async def _fetch(self, statement: str, params: Params) -> list[asyncpg.Record]:
        text, values = params.finish(statement)
        try:
            return list(await self._pool.fetch(text, *values))
        except asyncpg.QueryCanceledError as exc:
            raise InvalidQueryError("The query took too long and was stopped.") from exc
        except asyncpg.InvalidRegularExpressionError as exc:
            raise InvalidQueryError(f"Invalid regular expression: {exc}") from exc

    def _lookup(self) -> Callable[[str], ClassSchema | None]:
        return self._schemas.get

    # ---- reads ----------------------------------------------------------------------------------------

    def _matching(
        self,
        schema: ClassSchema,
        where: Mapping[str, Any],
        caller: CallerContext,
        operation: str,
        params: Params,
    ) -> str:
        readable = pgwhere.scope_rows(caller, params, schema, operation, "t")
        condition = pgwhere.compile_where(where, schema.class_name, self._lookup(), caller, params)
        return pgwhere.all_of([f"t.class_name = {params.add(schema.class_name)}", readable, condition])

    async def query(self, class_name: str, options: QueryOptions, caller: CallerContext) -> QueryResult:
        query_limits.check_page(options.limit, options.skip)
        for option, names in (
            ("keys", options.keys),
            ("excludeKeys", options.exclude_keys),
            ("include", options.include),
            ("order", options.order),
        ):
            query_limits.check_names(option, names)
        validate_class_name(class_name)
        schema = await self._schema_of(class_name)
        if schema is None:
            return QueryResult([], 0 if options.count else None)
        if options.count and options.limit == 0:
            return QueryResult([], await self.count(class_name, options.where, caller))
        params = Params()
        condition = self._matching(schema, options.where, caller, "find", params)
        ordering = pgwhere.order_by(
            schema,
            options.order,
            clp.protected_fields(schema.clp, caller),
            params.text_scores,
            near=params.near_orders,
        )
        limit = "" if options.limit < 0 else f" LIMIT {params.add(options.limit)}"
        statement = (
            f"SELECT t.doc FROM {RECORDS} AS t WHERE {condition}{ordering}{limit} "
            f"OFFSET {params.add(max(options.skip, 0))}"
        )
        rows = await self._fetch(statement, params)
        shown = presenter(self._schemas, caller, class_name)
        objects = [shown(_decode(schema, row["doc"])) for row in rows]
        include = include_paths(schema, options.include, options.keys)
        if include:
            await self._expand(caller, objects, schema, include)
        results = [project(obj, options.keys, options.exclude_keys) for obj in objects]
        total = await self.count(class_name, options.where, caller) if options.count else None
        return QueryResult(results, total)

    async def count(self, class_name: str, where: Mapping[str, Any], caller: CallerContext) -> int:
        validate_class_name(class_name)
        schema = await self._schema_of(class_name)
        if schema is None:
            return 0
        params = Params()
        condition = self._matching(schema, where, caller, "count", params)
        rows = await self._fetch(f"SELECT COUNT(*) AS n FROM {RECORDS} AS t WHERE {condition}", params)
        return int(rows[0]["n"])

    async def _load(
        self,
        connection: asyncpg.Connection | ConnectionPool,
        schema: ClassSchema,
        object_id: str,
        caller: CallerContext,
        *,
        perm: str = "rperm",
        operation: str | None = None,
        lock: bool = False,
    ) -> asyncpg.Record:
        """The row if it exists and the caller may reach it (``perm`` ACL, or ``operation``'s read rules);
        101 otherwise, missing and forbidden alike."""
        params = Params([schema.class_name, object_id])
        if operation is not None:
            visible = pgwhere.scope_rows(caller, params, schema, operation, "t", find=False)
        else:
            visible = pgwhere.visible(caller, "t", params, perm)
            if schema.class_name == "_Session" and not caller.is_master:
                if caller.user_id is None:
                    raise InvalidSessionTokenError("Invalid session token")
                visible = pgwhere.all_of(
                    [visible, f"(t.doc->'user'->>'objectId') = {params.add(caller.user_id)}"]
                )
        statement = (
            f"SELECT t.doc, t.rperm, t.wperm, t.secret FROM {RECORDS} AS t "
            f"WHERE t.class_name = $1 AND t.object_id = $2 AND {visible}" + (" FOR UPDATE" if lock else "")
        )
        text, values = params.finish(statement)
        row = await connection.fetchrow(text, *values)
        if row is None:
            raise ObjectNotFoundError()
        return row

    async def fetch(
        self, class_name: str, object_id: str, caller: CallerContext, options: FetchOptions | None = None
    ) -> JsonObject:
        chosen = options or FetchOptions()
        schema = await self._schema_of(validate_class_name(class_name))
        if schema is None or not isinstance(object_id, str):
            raise ObjectNotFoundError()
        row = await self._load(self._pool, schema, object_id, caller, operation="get")
        obj = present(self._schemas, caller, class_name, _decode(schema, row["doc"]))
        include = include_paths(schema, chosen.include, chosen.keys)
        if include:
            await self._expand(caller, [obj], schema, include)
        return project(obj, chosen.keys, chosen.exclude_keys)

    async def _expand(
        self,
        caller: CallerContext,
        objects: list[dict[str, Any]],
        schema: ClassSchema,
        paths: list[list[str]],
    ) -> None:
        """:func:`sidecar.store.reads.expand` with this store's loads (each pointee read as a ``get``)."""
        heads: dict[str, list[list[str]]] = {}
        for path in paths:
            heads.setdefault(path[0], []).append(path[1:])
        for head, tails in heads.items():
            holders = [obj for obj in objects if head in obj]
            by_class: dict[str, set[str]] = {}
            for obj in holders:
                for pointer in pointers_in(obj[head]):
                    by_class.setdefault(pointer["className"], set()).add(pointer["objectId"])
            loaded: dict[tuple[str, str], dict[str, Any]] = {}
            for class_name, ids in by_class.items():
                target = await self._schema_of(class_name)
                if target is None:
                    continue
                if target.class_name == "_Session" and not caller.is_master and caller.user_id is None:
                    continue
                params = Params([class_name, sorted(ids)])
                readable = pgwhere.scope_rows(caller, params, target, "get", "t", find=False)
                rows = await self._fetch(
                    f"SELECT t.doc FROM {RECORDS} AS t WHERE t.class_name = $1 "
                    f"AND t.object_id = ANY($2::text[]) AND {readable}",
                    params,
                )
                shown = presenter(self._schemas, caller, class_name)
                found = [shown(_decode(target, row["doc"])) for row in rows]
                deeper = [tail for tail in tails if tail]
                if deeper:
                    await self._expand(caller, found, target, deeper)
                loaded.update({(class_name, o["objectId"]): o for o in found})
            for obj in holders:
                obj[head] = swap_included(obj[head], loaded)

    async def distinct(
        self, class_name: str, field_name: str, where: Mapping[str, Any], caller: CallerContext
    ) -> list[Any]:
        validate_class_name(class_name)
        schema = await self._schema_of(class_name)
        if schema is None:
            return []
        if not isinstance(field_name, str) or not field_name:
            raise InvalidQueryError("distinct needs a field name")
        pgwhere.resolve_key(schema, field_name)  # validates the name
        params = Params()
        condition = self._matching(schema, where, caller, "find", params)
        rows = await self._fetch(f"SELECT t.doc FROM {RECORDS} AS t WHERE {condition}", params)
        shown = presenter(self._schemas, caller, class_name)  # protectedFields never show through
        head, *rest = field_name.split(".")
        seen: dict[bytes, Any] = {}
        for row in rows:
            value: Any = shown(row["doc"]).get(head)
            for segment in rest:
                value = value.get(segment) if isinstance(value, dict) else None
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    seen.setdefault(orjson.dumps(item, option=orjson.OPT_SORT_KEYS), item)
        return list(seen.values())

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], caller: CallerContext
    ) -> list[JsonObject]:
        where, stages = aggregation.plan(pipeline)
        schema = await self._schema_of(validate_class_name(class_name))
        if schema is None:
            return []
        params = Params()
        condition = self._matching(schema, where, caller, "find", params)
        rows = await self._fetch(f"SELECT t.doc FROM {RECORDS} AS t WHERE {condition}", params)
        shown = presenter(self._schemas, caller, class_name)
        return aggregation.finish([shown(_decode(schema, row["doc"])) for row in rows], stages)

    # ---- writes ---------------------------------------------------------------------------------------

    async def create(self, class_name: str, body: Mapping[str, Any], caller: CallerContext) -> CreateResult:
        if class_name in self._schemas and class_name not in special_classes.GUARDED:
            created = await self._create_in_one_statement(class_name, body, caller)
            if created is not None:
                return created
        return await self._write(caller, lambda tx: self._create(tx, class_name, body))

    async def _create_in_one_statement(
        self, class_name: str, body: Mapping[str, Any], caller: CallerContext
    ) -> CreateResult | None:
        """The common create (known class, known fields, no relations) as one statement that inserts the
        row, claims its database-change fires and announces it: one round trip instead of four (BEGIN,
        INSERT, NOTIFY, COMMIT), shared with the creates written at the same time (:mod:`.create_batches`).
        ``None`` when the create needs more (a new field, a relation, a large announcement): the caller
        then runs it in a transaction. Validation errors are raised as they are, nothing having been
        written."""
        recorder = _InsertRecorder()
        tx = _Tx(recorder, dict(self._schemas), caller, self._allow_class_creation, self._session_lifetime)
        try:
            result, events = await self._create(tx, class_name, body)
        except _NeedsTransaction:
            return None
        announced = notify.event_text(self.replica_id, events)
        if tx.wrote_schema or recorder.row is None or announced is None:
            return None
        try:
            await self._creates.write(PendingCreate(recorder.row, events, announced))
        except asyncpg.UniqueViolationError as exc:
            raise _unique_error(exc, class_name, result.object_id) from exc
        except asyncpg.QueryCanceledError as exc:
            raise InvalidQueryError("The query took too long and was stopped.") from exc
        except asyncpg.DataError as exc:
            raise InvalidJsonError(f"invalid value: {exc}") from exc
        return result

    async def _create(self, tx: _Tx, class_name: str, body: Mapping[str, Any]) -> tuple[CreateResult, Events]:
        schema = await tx.schema_for_write(class_name)
        clp.check(schema.clp, "create", tx.caller, class_name)
        shown = None
        if class_name in special_classes.GUARDED:
            body, shown = special_classes.before_create(tx.caller, class_name, body, tx.session_lifetime)
        given_id = body.get("objectId")
        object_id = uuid4_text() if given_id is None else client_object_id(given_id)
        writes = split_body(body, creating=True)
        if class_name == "_Role":
            check_new_role(writes)
        if class_name == "_User" and "emailVerified" in writes.values and not tx.caller.is_master:
            raise OperationForbiddenError("Clients aren't allowed to manually update email verification.")
        fill_defaults_and_check_required(schema, writes)
        owner = creator_owner(tx.caller, schema)
        if owner is not None:
            writes.values["owner"] = {"__type": "Pointer", "className": "_User", "objectId": owner}
        acl_value = acl_for_create(class_name, writes, object_id, owner)
        now = tx.now()
        doc: dict[str, Any] = {"objectId": object_id, "createdAt": now, "updatedAt": now}
        secret = None
        for name, value in writes.values.items():
            if value is None:
                continue
            if class_name == "_User" and name == "password":
                secret = passwords.hash_password(password_value(value))
                continue
            if name not in schema.fields:
                spec = field_spec_for(value)
                assert spec is not None
                schema = await tx.ensure_field(schema, name, spec)
            doc[name] = _stored_value(schema, name, value)
        rperm, wperm = _perm_lists(acl_value)
        stored_acl = _acl_of(rperm, wperm)
        if stored_acl is not None:
            doc["ACL"] = stored_acl
        try:
            await tx.connection.execute(
                INSERT,
                class_name,
                object_id,
                now,
                doc,
                rperm,
                wperm,
                secret,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _unique_error(exc, class_name, object_id) from exc
        for change in writes.relations:
            schema = await self._apply_relation(tx, schema, object_id, change)
        stored = _decode(schema, doc)
        if class_name == "_Session":
            stored = sessions.hide_token(stored)
            event = ChangeEvent(ChangeAction.CREATE, class_name, object_id, stored)
            return CreateResult(object_id, now, {**stored, **(shown or {})}, shown), [event]
        return CreateResult(object_id, now, stored), [
            ChangeEvent(ChangeAction.CREATE, class_name, object_id, stored)
        ]

    async def save(
        self,
        class_name: str,
        object_id: str,
        body: Mapping[str, Any],
        caller: CallerContext,
        expect: Mapping[str, Any] | None = None,
    ) -> SaveResult:
        return await self._write(caller, lambda tx: self._save(tx, class_name, object_id, body, expect))

    async def _save(
        self,
        tx: _Tx,
        class_name: str,
        object_id: str,
        body: Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
    ) -> tuple[SaveResult, Events]:
        schema = tx.schemas.get(class_name) or await tx.latest(class_name)
        if schema is None or not isinstance(object_id, str):
            raise ObjectNotFoundError()
        clp.check(schema.clp, "update", tx.caller, class_name)
        row = await self._load(tx.connection, schema, object_id, tx.caller, perm="wperm", lock=True)
        doc: dict[str, Any] = row["doc"]
        current = _decode(schema, copy.deepcopy(doc))
        check_expectations(current, expect)
        if class_name in special_classes.GUARDED:
            body = special_classes.before_update(tx.caller, class_name, body, current)
        writes = split_body(body, creating=False)
        changed, echoed = new_values(current, writes)
        check_required_kept(schema, changed)
        secret = row["secret"]
        if class_name == "_User":
            await self._check_user_update(tx, changed, object_id)
        for name, value in changed.items():
            if name == "password" and class_name == "_User":
                secret = passwords.hash_password(password_value(value))
                continue
            spec = field_spec_for(value)
            if spec is not None:
                schema = await tx.ensure_field(schema, name, spec)
            if name in schema.fields and schema.fields[name].type != "Relation":
                stored_value = _stored_value(schema, name, value)
                if stored_value is None:
                    doc.pop(name, None)
                else:
                    doc[name] = stored_value
        rperm, wperm = row["rperm"], row["wperm"]
        if writes.acl_given:
            rperm, wperm = _perm_lists(None if writes.acl is None else acl.validate_acl(writes.acl))
            new_acl = _acl_of(rperm, wperm)
            doc.pop("ACL", None)
            if new_acl is not None:
                doc["ACL"] = new_acl
        now = tx.now()
        doc["updatedAt"] = now
        try:
            await tx.connection.execute(
                f"UPDATE {RECORDS} SET doc = $3, updated_at = $4, rperm = $5, wperm = $6, secret = $7 "
                "WHERE class_name = $1 AND object_id = $2",
                class_name,
                object_id,
                doc,
                now,
                rperm,
                wperm,
                secret,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _unique_error(exc, class_name, object_id) from exc
        for change in writes.relations:
            schema = await self._apply_relation(tx, schema, object_id, change)
        stored = _decode(schema, doc)
        if class_name == "_Session":
            stored = sessions.hide_token(stored)
        return SaveResult(now, echoed, stored), [
            ChangeEvent(ChangeAction.UPDATE, class_name, object_id, stored)
        ]

    async def _check_user_update(self, tx: _Tx, changed: Mapping[str, Any], user_id: str) -> None:
        if "emailVerified" in changed and not tx.caller.is_master:
            raise OperationForbiddenError("Clients aren't allowed to manually update email verification.")
        if "password" in changed:  # a new password ends the user's other sessions (as Parse 9.x)
            token = tx.caller.session_token
            await tx.connection.execute(
                f"DELETE FROM {RECORDS} WHERE class_name = '_Session' AND doc->'user'->>'objectId' = $1 "
                "AND (doc->>'sessionToken') IS DISTINCT FROM $2",
                user_id,
                sessions.token_digest(token) if token else None,
            )

    async def _apply_relation(
        self, tx: _Tx, schema: ClassSchema, owner_id: str, change: RelationChange
    ) -> ClassSchema:
        declared_spec = schema.fields.get(change.field_name)
        target = change.target_class or (declared_spec.target_class if declared_spec else None)
        schema = await tx.ensure_field(schema, change.field_name, FieldSchema("Relation", target))
        declared = schema.fields[change.field_name].target_class
        if change.target_class not in (None, declared):
            raise IncorrectTypeError(
                f"Relation {change.field_name} holds {declared}, not {change.target_class}"
            )
        if change.add:
            await tx.connection.execute(
                f"INSERT INTO {RELATIONS} (class_name, field, owning_id, related_id) "
                "SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING",
                schema.class_name,
                change.field_name,
                owner_id,
                list(change.add),
            )
        if change.remove:
            await tx.connection.execute(
                f"DELETE FROM {RELATIONS} WHERE class_name = $1 AND field = $2 AND owning_id = $3 "
                "AND related_id = ANY($4::text[])",
                schema.class_name,
                change.field_name,
                owner_id,
                list(change.remove),
            )
        return schema

    async def delete(self, class_name: str, object_id: str, caller: CallerContext) -> None:
        await self._write(caller, lambda tx: self._delete(tx, class_name, object_id))

    async def _delete(self, tx: _Tx, class_name: str, object_id: str) -> tuple[None, Events]:
        schema = tx.schemas.get(class_name) or await tx.latest(class_name)
        if schema is None or not isinstance(object_id, str):
            raise ObjectNotFoundError()
        clp.check(schema.clp, "delete", tx.caller, class_name)
        special_classes.before_delete(tx.caller, class_name)
        row = await self._load(tx.connection, schema, object_id, tx.caller, perm="wperm", lock=True)
        before = _decode(schema, row["doc"])
        if class_name == "_Session":
            before = sessions.hide_token(before)
        await tx.connection.execute(
            f"DELETE FROM {RECORDS} WHERE class_name = $1 AND object_id = $2", class_name, object_id
        )
        return None, [ChangeEvent(ChangeAction.DELETE, class_name, object_id, before)]

    async def increment(
        self, class_name: str, object_id: str, field_name: str, amount: float, caller: CallerContext
    ) -> SaveResult:
        return await self.save(
            class_name, object_id, {field_name: {"__op": "Increment", "amount": amount}}, caller
        )

    async def batch(
        self, ops: Sequence[BatchOp], caller: CallerContext, *, transaction: bool = False
    ) -> list[BatchItemResult]:
        return await self._write(caller, lambda tx: self._batch(tx, list(ops), transaction))

    async def _batch(
        self, tx: _Tx, ops: list[BatchOp], transaction: bool
    ) -> tuple[list[BatchItemResult], Events]:
        results: list[BatchItemResult] = []
        events: Events = []
        for op in ops:
            if transaction:  # all or nothing: the write's transaction covers the whole batch
                body, op_events = await self._run_batch_op(tx, op)
                results.append(BatchItemResult(success=body))
                events.extend(op_events)
                continue
            before = dict(tx.schemas)
            try:
                assert not isinstance(tx.connection, _InsertRecorder)  # batches run in a transaction
                async with tx.connection.transaction():  # a savepoint inside the write's transaction
                    body, op_events = await self._run_batch_op(tx, op)
            except Exception as exc:
                tx.schemas = before
                results.append(BatchItemResult(error=exc))
                continue
            results.append(BatchItemResult(success=body))
            events.extend(op_events)
        return results, events

    async def _run_batch_op(self, tx: _Tx, op: BatchOp) -> tuple[dict[str, Any], Events]:
        if op.method is BatchMethod.CREATE:
            created, events = await self._create(tx, op.class_name, op.body)
            return created.to_wire(), events
        if op.object_id is None:
            raise ObjectNotFoundError()
        if op.method is BatchMethod.SAVE:
            saved, events = await self._save(tx, op.class_name, op.object_id, op.body)
            return saved.to_wire(), events
        _, events = await self._delete(tx, op.class_name, op.object_id)
        return {}, events

    # ---- changes and realtime -------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Subscription:
        return self._bus.subscribe(listener)

    def subscribe_local(self, listener: ChangeListener) -> Subscription:
        """This replica's own committed changes only: what a database trigger fires on, so that each
        change fires once across replicas (realtime subscribers use :meth:`subscribe`: every change)."""
        return self._local_bus.subscribe(listener)

    # ---- SchemaAdmin ----------------------------------------------------------------------------------

    async def list_schemas(self) -> list[JsonObject]:
        return [self._schemas[name].to_wire() for name in sorted(self._schemas)]

    async def get_schema(self, class_name: str) -> JsonObject:
        schema = await self._schema_of(class_name)
        if schema is None:
            raise InvalidClassNameError(f"Class {class_name} does not exist.")
        return schema.to_wire()

    async def create_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject:
        from sidecar.store.schema_admin import declared_fields, field_specs

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            validate_class_name(class_name)
            body_name = definition.get("className")
            if body_name not in (None, class_name):
                raise InvalidClassNameError(f"Class name mismatch between {body_name} and {class_name}.")
            if await tx.latest(class_name) is not None:
                raise InvalidClassNameError(f"Class {class_name} already exists.")
            fields = {**SYSTEM_FIELDS.get(class_name, {}), **declared_fields(field_specs(definition))}
            schema = ClassSchema(class_name, fields)
            if isinstance(definition.get("classLevelPermissions"), Mapping):
                schema = replace(schema, clp=dict(definition["classLevelPermissions"]))
            schema = self._with_indexes(schema, definition.get("indexes") or {})
            return (await tx.save_schema(schema)).to_wire(), []

        return await self._write(_MASTER, run)

    async def update_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject:
        from sidecar.store.schema_admin import check_declarable, field_specs, without_indexes_on

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            validate_class_name(class_name)
            schema = await tx.latest(class_name)
            if schema is None:
                raise InvalidClassNameError(f"Class {class_name} does not exist.")
            for name, spec in field_specs(definition).items():
                if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
                    schema = await self._delete_field(tx, schema, name, without_indexes_on)
                elif name not in schema.fields:
                    check_declarable(name)
                    schema = schema.with_field(name, FieldSchema.from_wire(spec))
                elif FieldSchema.from_wire(spec).type != schema.fields[name].type:
                    raise InvalidSchemaOperationError(f"Field {name} exists, cannot update.")
            if isinstance(definition.get("classLevelPermissions"), Mapping):
                schema = replace(schema, clp=dict(definition["classLevelPermissions"]))
            schema = self._with_indexes(schema, definition.get("indexes") or {})
            return (await tx.save_schema(schema)).to_wire(), []

        return await self._write(_MASTER, run)

    @staticmethod
    def _with_indexes(schema: ClassSchema, indexes: Any) -> ClassSchema:
        """Declared indexes are recorded in the schema (the JSONB table needs no per-field index)."""
        if not isinstance(indexes, Mapping) or not indexes:
            return schema
        current = dict(schema.indexes)
        for name, spec in indexes.items():
            if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
                if name not in current:
                    raise InvalidSchemaOperationError(f"Index {name} does not exist, cannot delete.")
                del current[name]
                continue
            if name in current:
                raise InvalidSchemaOperationError(f"Index {name} exists, cannot update.")
            if not isinstance(spec, Mapping) or not spec:
                raise InvalidSchemaOperationError(f"Index {name} needs at least one field")
            for field_name, direction in spec.items():
                field_spec = schema.field_type(field_name)
                if field_spec is None or field_spec.type in ("Relation", "ACL") or direction not in (1, -1):
                    raise InvalidSchemaOperationError(f"Field {field_name} cannot be indexed.")
            current[name] = dict(spec)
        return replace(schema, indexes=current)

    async def _delete_field(
        self,
        tx: _Tx,
        schema: ClassSchema,
        name: str,
        without_indexes_on: Callable[[ClassSchema, str], ClassSchema],
    ) -> ClassSchema:
        from sidecar.errors import ImmutableFieldError

        spec = schema.fields.get(name)
        if spec is None:
            raise InvalidSchemaOperationError(f"Field {name} does not exist, cannot delete.")
        if name in SYSTEM_FIELDS.get(schema.class_name, {}):
            raise ImmutableFieldError(f"field {name} cannot be changed")
        if spec.type == "Relation":
            await tx.connection.execute(
                f"DELETE FROM {RELATIONS} WHERE class_name = $1 AND field = $2", schema.class_name, name
            )
        else:
            await tx.connection.execute(
                f"UPDATE {RECORDS} SET doc = doc - $2::text WHERE class_name = $1 AND doc ? $2::text",
                schema.class_name,
                name,
            )
        return without_indexes_on(schema.without_field(name), name)

    async def delete_class(self, class_name: str) -> None:
        async def run(tx: _Tx) -> tuple[None, Events]:
            validate_class_name(class_name)
            if await tx.latest(class_name) is None:
                return None, []
            rows = await tx.connection.fetchval(
                f"SELECT COUNT(*) FROM {RECORDS} WHERE class_name = $1", class_name
            )
            if rows:
                raise InvalidSchemaOperationError(
                    f"Class {class_name} is not empty, contains {rows} objects, cannot drop schema."
                )
            await tx.connection.execute(f"DELETE FROM {RELATIONS} WHERE class_name = $1", class_name)
            await tx.connection.execute("DELETE FROM noodl_schema WHERE class_name = $1", class_name)
            del tx.schemas[class_name]
            tx.changed_schemas = tx.wrote_schema = True
            tx.touched.add(class_name)
            if class_name in PRECREATED:
                await tx.ensure_class(class_name)
            return None, []

        await self._write(_MASTER, run)

    async def rename_field(self, class_name: str, old: str, new: str) -> JsonObject:
        from sidecar.store.names import DEFAULT_FIELDS
        from sidecar.store.schema_admin import check_declarable

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            schema = await self._existing(tx, class_name)
            spec = schema.fields.get(old)
            if spec is None or old in DEFAULT_FIELDS or old in SYSTEM_FIELDS.get(class_name, {}):
                raise InvalidSchemaOperationError(f"Field {old} cannot be renamed.")
            check_declarable(new)
            if new in schema.fields:
                raise InvalidSchemaOperationError(f"Field {new} exists, cannot update.")
            if spec.type == "Relation":
                await tx.connection.execute(
                    f"UPDATE {RELATIONS} SET field = $3 WHERE class_name = $1 AND field = $2",
                    class_name,
                    old,
                    new,
                )
            else:
                await tx.connection.execute(
                    f"UPDATE {RECORDS} SET doc = (doc - $2::text) "
                    "|| jsonb_build_object($3::text, doc->$2::text) WHERE class_name = $1 AND doc ? $2::text",
                    class_name,
                    old,
                    new,
                )
            fields = {(new if k == old else k): v for k, v in schema.fields.items()}
            renamed = ClassSchema(class_name, fields, schema.clp, schema.indexes)
            return (await tx.save_schema(renamed)).to_wire(), []

        return await self._write(_MASTER, run)

    async def change_field_type(self, class_name: str, field_name: str, new_type: str) -> JsonObject:
        """Convert each stored value as the SQLite store does
        (:func:`sidecar.store.schema_admin.convert_value`); values that cannot convert become null and are
        counted."""
        from sidecar.store.schema_admin import convert_value, without_indexes_on

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            schema = await self._existing(tx, class_name)
            spec = schema.fields.get(field_name)
            if spec is None or field_name in SYSTEM_FIELDS.get(class_name, {}):
                raise InvalidSchemaOperationError(f"Field {field_name} does not exist or cannot change type.")
            target = FieldSchema.from_wire({"type": new_type, "targetClass": spec.target_class})
            if "Relation" in (spec.type, new_type):
                raise InvalidSchemaOperationError("Relation fields cannot change type.")
            updated = without_indexes_on(schema.with_field(field_name, target), field_name)
            rows = await tx.connection.fetch(
                f"SELECT object_id, doc->$2::text AS value FROM {RECORDS} WHERE class_name = $1 "
                "AND doc ? $2::text FOR UPDATE",
                class_name,
                field_name,
            )
            lost = 0
            for row in rows:
                converted = convert_value(row["value"], new_type)
                stored = None if converted is None else _stored_value(updated, field_name, converted)
                lost += stored is None
                await tx.connection.execute(
                    f"UPDATE {RECORDS} SET doc = CASE WHEN $4::jsonb IS NULL THEN doc - $3::text "
                    "ELSE jsonb_set(doc, ARRAY[$3::text], $4::jsonb) END "
                    "WHERE class_name = $1 AND object_id = $2",
                    class_name,
                    row["object_id"],
                    field_name,
                    None if stored is None else orjson.dumps(stored).decode(),
                )
            result = (await tx.save_schema(updated)).to_wire()
            result["conversion"] = {
                "changed": True,
                "from": spec.type,
                "convertedValues": len(rows) - lost,
                "lost": lost,
            }
            return result, []

        return await self._write(_MASTER, run)

    @staticmethod
    async def _existing(tx: _Tx, class_name: str) -> ClassSchema:
        validate_class_name(class_name)
        schema = await tx.latest(class_name)
        if schema is None:
            raise InvalidClassNameError(f"Class {class_name} does not exist.")
        return schema

    async def export_schema(self, fmt: str) -> str:
        raise CommandUnavailableError("Exports are not available on the PostgreSQL store yet.")

    async def export_data(self, fmt: str) -> str:
        raise CommandUnavailableError("Exports are not available on the PostgreSQL store yet.")

    # ---- AuthStore ------------------------------------------------------------------------------------

    async def signup(self, body: Mapping[str, Any], caller: CallerContext) -> JsonObject:
        username, password, email = body.get("username"), body.get("password"), body.get("email")
        if not isinstance(username, str) or not username:
            raise UsernameMissingError("bad or missing username")
        if not isinstance(password, str) or not password:
            raise PasswordMissingError("password is required")
        import re

        if email is not None and (not isinstance(email, str) or not re.match(_EMAIL_CHECK, email)):
            raise InvalidEmailError("Email address format is invalid.")

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            taken = await tx.connection.fetchval(
                f"SELECT 1 FROM {RECORDS} WHERE class_name = '_User' AND lower(doc->>'username') = lower($1)",
                username,
            )
            if taken:
                raise UsernameTakenError("Account already exists for this username.")
            if email and await tx.connection.fetchval(
                f"SELECT 1 FROM {RECORDS} WHERE class_name = '_User' AND lower(doc->>'email') = lower($1)",
                email,
            ):
                raise EmailTakenError("Account already exists for this email address.")
            checked = special_classes.user_fields(tx.caller, body)
            fields = {k: v for k, v in checked.items() if k not in ("emailVerified", "authData")}
            master = tx.as_master()
            created, events = await self._create(master, "_User", fields)
            token, session_events = await self._mint_session(master, created.object_id, "signup")
            tx.schemas, tx.changed_schemas = master.schemas, tx.changed_schemas or master.changed_schemas
            reply = {"objectId": created.object_id, "createdAt": created.created_at, "sessionToken": token}
            return reply, [*events, *session_events]

        return await self._write(caller, run)

    async def _mint_session(self, tx: _Tx, user_id: str, action: str) -> tuple[str, Events]:
        token = sessions.new_session_token()
        body: dict[str, Any] = {
            "user": sessions.user_pointer(user_id),
            "sessionToken": token,
            "expiresAt": {"__type": "Date", "iso": format_iso(datetime.now(UTC) + tx.session_lifetime)},
            "createdWith": {"action": action, "authProvider": "password"},
            "restricted": False,
            "ACL": {user_id: {"read": True, "write": True}},
        }
        _, events = await self._create(tx, "_Session", body)
        return token, events

    async def login(self, username: str | None, email: str | None, password: str) -> JsonObject:
        if not isinstance(password, str) or not (isinstance(username, str) or isinstance(email, str)):
            raise ObjectNotFoundError("Invalid username/password.")

        async def run(tx: _Tx) -> tuple[JsonObject, Events]:
            row = await self._find_login_row(tx.connection, username, email)
            if row is None or not passwords.verify_password(password, row["secret"]):
                raise ObjectNotFoundError("Invalid username/password.")
            if row["rperm"] == []:  # a locked ACL {} makes login fail as Parse does
                raise ObjectNotFoundError("Invalid username/password.")
            user = _decode(tx.schemas.get("_User"), row["doc"])
            token, events = await self._mint_session(tx, user["objectId"], "login")
            return {**user, "sessionToken": token}, events

        return await self._write(_MASTER, run)

    async def _find_login_row(
        self, connection: asyncpg.Connection, username: Any, email: Any
    ) -> asyncpg.Record | None:
        select = f"SELECT doc, rperm, secret FROM {RECORDS} WHERE class_name = '_User' AND "
        if isinstance(username, str) and isinstance(email, str):
            found: asyncpg.Record | None = await connection.fetchrow(
                select + "doc->>'username' = $1 AND doc->>'email' = $2", username, email
            )
            return found
        if isinstance(email, str):
            found = await connection.fetchrow(select + "doc->>'email' = $1", email)
            return found
        found = await connection.fetchrow(select + "doc->>'username' = $1", username)
        return found or await connection.fetchrow(select + "doc->>'email' = $1", username)

    async def logout(self, session_token: str) -> None:
        async def run(tx: _Tx) -> tuple[None, Events]:
            deleted = await tx.connection.fetchval(
                f"WITH gone AS (DELETE FROM {RECORDS} WHERE class_name = '_Session' "
                "AND doc->>'sessionToken' = $1 RETURNING 1) SELECT COUNT(*) FROM gone",
                sessions.token_digest(session_token),
            )
            if not deleted:
                raise InvalidSessionTokenError("Invalid session token")
            return None, []

        await self._write(_MASTER, run)

    async def _session_row(self, token: Any) -> asyncpg.Record:
        if not isinstance(token, str) or not token:
            raise InvalidSessionTokenError("Invalid session token")
        row = await self._pool.fetchrow(
            f"SELECT doc FROM {RECORDS} WHERE class_name = '_Session' AND doc->>'sessionToken' = $1",
            sessions.token_digest(token),
        )
        if row is None or not isinstance(row["doc"].get("user"), dict):
            raise InvalidSessionTokenError("Invalid session token")
        expires = row["doc"].get("expiresAt")
        if isinstance(expires, dict) and expires.get("iso", "") <= format_iso(datetime.now(UTC)):
            raise InvalidSessionTokenError("Session token is expired.")
        return row

    async def caller_for_session(self, session_token: str) -> CallerContext:
        row = await self._session_row(session_token)
        user_id = row["doc"]["user"]["objectId"]
        return CallerContext.user(user_id, await self._roles_of(user_id), session_token)

    async def _roles_of(self, user_id: str) -> frozenset[str]:
        """Direct membership through ``_Role.users``, then every role whose ``roles`` relation holds a held
        role, as the SQLite store's :func:`sidecar.store.auth.roles_of`."""
        rows = await self._pool.fetch(
            "WITH RECURSIVE held(id) AS ("
            f"SELECT owning_id FROM {RELATIONS} WHERE class_name = '_Role' AND field = 'users' "
            "AND related_id = $1 UNION "
            f"SELECT r.owning_id FROM {RELATIONS} AS r JOIN held ON r.related_id = held.id "
            "WHERE r.class_name = '_Role' AND r.field = 'roles') "
            f"SELECT t.doc->>'name' AS name FROM {RECORDS} AS t JOIN held ON t.object_id = held.id "
            "WHERE t.class_name = '_Role'",
            user_id,
        )
        return frozenset(row["name"] for row in rows if row["name"])

    async def current_user(self, session_token: str) -> JsonObject:
        caller = await self.caller_for_session(session_token)
        row = await self._pool.fetchrow(
            f"SELECT doc FROM {RECORDS} WHERE class_name = '_User' AND object_id = $1", caller.user_id
        )
        if row is None:
            raise InvalidSessionTokenError("Invalid session token")
        return {**_decode(self._schemas.get("_User"), row["doc"]), "sessionToken": session_token}

    async def current_session(self, session_token: str) -> JsonObject:
        row = await self._session_row(session_token)
        doc = sessions.hide_token(_decode(self._schemas.get("_Session"), row["doc"]))
        return {**doc, "sessionToken": session_token}
