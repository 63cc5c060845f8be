"""SqliteRecordStore: the async shell over the pure read/write functions.

Composition: one :class:`WriteQueue` (writer thread, group commit) + a :class:`ReadPool` of reader
threads (WAL lets them read while the writer writes) + the :class:`ChangeBus`. In ephemeral mode
(``:memory:``) every call goes through the writer's connection, since a private in-memory database
cannot be shared.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sidecar.errors import InvalidClassNameError, RequestFailedError
from sidecar.private_files import private_database, private_dir
from sidecar.store import aggregate as aggregation
from sidecar.store import (
    auth,
    export,
    migrations,
    query_limits,
    read_shape,
    reads,
    schema_admin,
    sessions,
    sqlfuncs,
    writes,
)
from sidecar.store import catalog as catalog_module
from sidecar.store.catalog import WorkingCatalog
from sidecar.store.changes import ChangeBus
from sidecar.store.interface import (
    BatchItemResult,
    BatchOp,
    CallerContext,
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
from sidecar.store.realtime_filters import RealtimeFilters
from sidecar.store.relation_edits import RelationEdits
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlite import auto_index
from sidecar.store.sqlite.auto_index import AutoIndexer
from sidecar.store.sqlite.checkpointer import CheckpointConfig, Checkpointer
from sidecar.store.sqlite.connection import MEMORY, Durability, open_connection
from sidecar.store.sqlite.inline import DEFAULT_BUDGET as DEFAULT_INLINE_BUDGET
from sidecar.store.sqlite.readpool import DEFAULT_REGEX_BUDGET, ReadPool
from sidecar.store.sqlite.writer import WriteQueue

T = TypeVar("T")
WriteFn = Callable[[writes.WriteContext], tuple[T, Sequence[ChangeEvent]]]
ReadFn = Callable[[reads.ReadContext], T]


class SqliteRecordStore(RelationEdits, RealtimeFilters):
    """Implements :class:`RecordStore`, :class:`SchemaAdmin` and :class:`AuthStore` over one SQLite file."""

    def __init__(
        self,
        path: str,
        writer: WriteQueue,
        catalog: WorkingCatalog,
        readers: ReadPool | None,
        bus: ChangeBus,
        allow_class_creation: bool,
        session_lifetime: timedelta,
        *,
        regex_budget: float = DEFAULT_REGEX_BUDGET,
        checkpointer: Checkpointer | None = None,
        automatic_indexes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """``regex_budget`` applies to reads in ephemeral mode (the pool has its own); ``checkpointer`` is
        stopped by :meth:`close` after the writer."""
        self.path = path
        self._writer = writer
        self._checkpointer = checkpointer
        self._catalog = catalog
        self._readers = readers
        self._bus = bus
        self._schemas: dict[str, ClassSchema] = catalog.snapshot()
        self._file_fields_of: Mapping[str, ClassSchema] | None = None
        self._file_fields = False
        self._allow_class_creation = allow_class_creation
        self._session_lifetime = session_lifetime
        self._matcher = RecordMatcher()
        self._ephemeral_regex_budget = regex_budget
        self._auto_indexes = AutoIndexer(self._create_auto_index, automatic_indexes)

    @classmethod
    async def open(
        cls,
        path: str | Path | None,
        *,
        ephemeral: bool = False,
        durability: Durability = Durability.NORMAL,
        readers: int = 2,
        read_time_limit: float = 10.0,
        regex_budget: float = DEFAULT_REGEX_BUDGET,
        allow_client_class_creation: bool = True,
        session_lifetime: timedelta = sessions.DEFAULT_SESSION_LIFETIME,
        checkpoints: CheckpointConfig | None = None,
        inline_budget: int = DEFAULT_INLINE_BUDGET,
    ) -> SqliteRecordStore:
        """Open (creating if needed) the store at ``path``; ``:memory:``/``None`` only with ``ephemeral``.
        ``checkpoints``: when the write-ahead log is copied back and started over (see checkpointer).
        ``inline_budget``: SQLite VM instructions a short read may take on the event loop's thread before
        it is handed to a reader thread (0: every read goes to a reader thread; see sqlite/inline.py)."""
        location = MEMORY if path is None else str(path)
        if (location == MEMORY) != ephemeral:
            raise RequestFailedError(
                "an in-memory store needs ephemeral=True, and ephemeral needs ':memory:'"
            )
        if location != MEMORY:
            # local.db holds session tokens: owner-only before SQLite writes its first page.
            private_dir(Path(location).parent)
            private_database(Path(location))
        connection = open_connection(location, readonly=False, durability=durability)
        catalog_module.bootstrap(connection)
        catalog = WorkingCatalog(catalog_module.load(connection))
        automatic_indexes = auto_index.existing(connection)
        bus = ChangeBus()
        store: SqliteRecordStore

        def published(schemas: dict[str, Any], events: list[Any]) -> None:
            store._schemas = schemas
            bus.emit(events)

        checkpointer = None if location == MEMORY else Checkpointer(location, checkpoints)
        writer = WriteQueue(connection, catalog, published, checkpointer=checkpointer)
        pool = (
            None
            if location == MEMORY
            else ReadPool(
                location,
                readers,
                read_time_limit,
                regex_budget=regex_budget,
                inline_budget=inline_budget,
            )
        )
        store = cls(
            location,
            writer,
            catalog,
            pool,
            bus,
            allow_client_class_creation,
            session_lifetime,
            # no deadline stops a read on the writer's thread: its regexes get the read time limit at most
            regex_budget=min(regex_budget, read_time_limit),
            checkpointer=checkpointer,
            automatic_indexes=automatic_indexes,
        )
        if checkpointer is not None:
            checkpointer.start()
        writer.start()
        await store._write(CallerContext.master(), _precreate)
        return store

    @property
    def write_queue_depth(self) -> int:
        """Writes waiting for the writer thread (``/metrics`` shows it)."""
        return self._writer.depth

    async def close(self) -> None:
        await self._auto_indexes.drain()
        await self._writer.close()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.close)
        if self._readers is not None:
            await self._readers.close()
        await self._bus.drain()
        self._matcher.close()

    # ---- plumbing ---------------------------------------------------------------------------------

    async def _write(self, caller: CallerContext, fn: WriteFn[T]) -> T:
        def job(connection: sqlite3.Connection, catalog: WorkingCatalog) -> tuple[T, Sequence[ChangeEvent]]:
            return fn(
                writes.WriteContext(
                    connection,
                    catalog,
                    caller,
                    self._allow_class_creation,
                    self._bus.has_listeners,
                    self._session_lifetime,
                )
            )

        return await self._writer.submit(job)

    async def _read(
        self,
        caller: CallerContext,
        fn: ReadFn[T],
        *,
        limited: bool = True,
        costly: bool = False,
        shape: Hashable | None = None,
        scanned: tuple[str, Mapping[str, Any]] | None = None,
    ) -> T:
        """``costly``: a filter that runs Python on every row or is large to plan (own reader threads, see
        :mod:`sidecar.store.sqlite.readpool`; :func:`query_limits.is_costly` decides). ``shape``: the
        read's :mod:`~sidecar.store.read_shape`, for a read that is often short (tried on the loop's
        thread first, see :mod:`sidecar.store.sqlite.inline`). ``scanned``: the class and filter of a
        find or count, whose compared fields may get an automatic index when the read is long
        (:mod:`sidecar.store.sqlite.auto_index`)."""
        if self._readers is None:
            budget = self._ephemeral_regex_budget

            def job(
                connection: sqlite3.Connection, catalog: WorkingCatalog
            ) -> tuple[T, Sequence[ChangeEvent]]:
                with sqlfuncs.regex_budget(budget):  # reads share the writer here: keep them short
                    return fn(reads.ReadContext(connection, catalog.schemas, caller)), ()

            return await self._writer.submit(job)
        schemas, automatic = self._schemas, self._auto_indexes.indexed
        on_long = None
        if scanned is not None:
            class_name, where = scanned

            def on_long() -> None:
                self._auto_indexes.note_long_read(schemas.get(class_name), where)

        return await self._readers.submit(
            lambda connection: fn(reads.ReadContext(connection, schemas, caller, automatic)),
            limited=limited,
            costly=costly,
            shape=shape,
            on_long=on_long,
        )

    async def _create_auto_index(self, class_name: str, field_name: str) -> bool:
        def job(
            connection: sqlite3.Connection, catalog: WorkingCatalog
        ) -> tuple[bool, Sequence[ChangeEvent]]:
            return auto_index.create_index(connection, class_name, field_name), ()

        return await self._writer.submit(job)

    def schemas(self) -> Mapping[str, ClassSchema]:
        """The schemas as of the last commit."""
        return self._schemas

    def has_file_fields(self) -> bool:
        schemas = self._schemas
        if self._file_fields_of is not schemas:  # recomputed once per published schema set
            self._file_fields_of = schemas
            self._file_fields = any(f.type == "File" for c in schemas.values() for f in c.fields.values())
        return self._file_fields

    # ---- RecordStore --------------------------------------------------------------------------------

    async def query(self, class_name: str, options: QueryOptions, caller: CallerContext) -> QueryResult:
        query_limits.check_page(options.limit, options.skip)
        for option, names in (
            ("keys", options.keys),
            ("excludeKeys", options.exclude_keys),
            ("include", options.include),
            ("order", options.order),
        ):
            query_limits.check_names(option, names)
        return await self._read(
            caller,
            lambda ctx: reads.query(ctx, class_name, options),
            costly=query_limits.is_costly(options.where),
            shape=read_shape.find_shape(class_name, options),
            scanned=None if options.order else (class_name, options.where),
        )

    async def count(self, class_name: str, where: Mapping[str, Any], caller: CallerContext) -> int:
        return await self._read(
            caller,
            lambda ctx: reads.count(ctx, class_name, where),
            costly=query_limits.is_costly(where),
            shape=read_shape.count_shape(class_name, where),
            scanned=(class_name, where),
        )

    async def fetch(
        self, class_name: str, object_id: str, caller: CallerContext, options: FetchOptions | None = None
    ) -> JsonObject:
        chosen = options or FetchOptions()
        return await self._read(
            caller,
            lambda ctx: reads.fetch(ctx, class_name, object_id, chosen),
            shape=read_shape.fetch_shape(class_name, chosen),
        )

    async def create(self, class_name: str, body: Mapping[str, Any], caller: CallerContext) -> CreateResult:
        return await self._write(caller, lambda ctx: writes.create(ctx, class_name, body))

    async def save(
        self,
        class_name: str,
        object_id: str,
        body: Mapping[str, Any],
        caller: CallerContext,
        expect: Mapping[str, Any] | None = None,
    ) -> SaveResult:
        return await self._write(caller, lambda ctx: writes.save(ctx, class_name, object_id, body, expect))

    async def delete(self, class_name: str, object_id: str, caller: CallerContext) -> None:
        await self._write(caller, lambda ctx: writes.delete(ctx, class_name, object_id))

    async def increment(
        self, class_name: str, object_id: str, field_name: str, amount: float, caller: CallerContext
    ) -> SaveResult:
        body = {field_name: {"__op": "Increment", "amount": amount}}
        return await self.save(class_name, object_id, body, caller)

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], caller: CallerContext
    ) -> list[JsonObject]:
        return await self._read(
            caller,
            lambda ctx: aggregation.run(ctx, class_name, pipeline),
            costly=query_limits.is_costly(pipeline),
        )

    async def distinct(
        self, class_name: str, field_name: str, where: Mapping[str, Any], caller: CallerContext
    ) -> list[Any]:
        return await self._read(
            caller,
            lambda ctx: reads.distinct(ctx, class_name, field_name, where),
            costly=query_limits.is_costly(where),
        )

    async def batch(
        self, ops: Sequence[BatchOp], caller: CallerContext, *, transaction: bool = False
    ) -> list[BatchItemResult]:
        return await self._write(caller, lambda ctx: writes.batch(ctx, list(ops), transaction))

    def subscribe(self, listener: ChangeListener) -> Subscription:
        return self._bus.subscribe(listener)

    # ---- SchemaAdmin (callers must be master; the doors check that) -------------------------------------

    async def list_schemas(self) -> list[JsonObject]:
        return [self._schemas[name].to_wire() for name in sorted(self._schemas)]

    async def get_schema(self, class_name: str) -> JsonObject:
        schema = self._schemas.get(class_name)
        if schema is None:
            raise InvalidClassNameError(f"Class {class_name} does not exist.")
        return schema.to_wire()

    async def create_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject:
        return await self._write(_MASTER, lambda ctx: schema_admin.create_class(ctx, class_name, definition))

    async def update_class(self, class_name: str, definition: Mapping[str, Any]) -> JsonObject:
        return await self._write(_MASTER, lambda ctx: schema_admin.update_class(ctx, class_name, definition))

    async def delete_class(self, class_name: str) -> None:
        await self._write(_MASTER, lambda ctx: schema_admin.delete_class(ctx, class_name))

    async def rename_field(self, class_name: str, old: str, new: str) -> JsonObject:
        return await self._write(_MASTER, lambda ctx: schema_admin.rename_field(ctx, class_name, old, new))

    async def change_field_type(self, class_name: str, field_name: str, new_type: str) -> JsonObject:
        return await self._write(
            _MASTER, lambda ctx: schema_admin.change_field_type(ctx, class_name, field_name, new_type)
        )

    async def export_schema(self, fmt: str) -> str:
        return await self._read(
            _MASTER, lambda ctx: export.export_schema(ctx.connection, ctx.schemas, fmt), limited=False
        )

    async def export_data(self, fmt: str) -> str:
        return await self._read(
            _MASTER, lambda ctx: export.export_data(ctx.connection, ctx.schemas, fmt), limited=False
        )

    async def export_records(
        self, fmt: str, classes: Sequence[str] | None = None, password_hashes: bool = False
    ) -> tuple[str, dict[str, int]]:
        """A records export (``jsonl``, ``postgres``, ``supabase``) of all classes or the named ones, with
        the rows per class; users' password hashes only when asked (``sidecar.store.export``)."""
        return await self._read(
            _MASTER,
            lambda ctx: export.export_records(ctx.connection, ctx.schemas, fmt, classes, password_hashes),
            limited=False,
        )

    async def restore_record(
        self, class_name: str, record: Mapping[str, Any], hashed_password: str | None = None
    ) -> CreateResult:
        """Create ``record`` as an export holds it (objectId and timestamps kept), as master."""
        return await self._write(
            _MASTER, lambda ctx: writes.restore(ctx, class_name, record, hashed_password)
        )

    async def restore_relation(
        self, class_name: str, field_name: str, target_class: str, owning_id: str, related_id: str
    ) -> None:
        """Add one relation pair of an export without touching the owning record's updatedAt."""
        await self._write(
            _MASTER,
            lambda ctx: writes.restore_relation(
                ctx, class_name, field_name, target_class, owning_id, related_id
            ),
        )

    # ---- AuthStore ------------------------------------------------------------------------------------

    async def signup(self, body: Mapping[str, Any], caller: CallerContext) -> JsonObject:
        return await self._write(caller, lambda ctx: auth.signup(ctx, body, self._session_lifetime))

    async def login(self, username: str | None, email: str | None, password: str) -> JsonObject:
        return await self._write(
            _MASTER, lambda ctx: auth.login(ctx, username, email, password, self._session_lifetime)
        )

    async def logout(self, session_token: str) -> None:
        await self._write(_MASTER, lambda ctx: auth.logout(ctx, session_token))

    async def caller_for_session(self, session_token: str) -> CallerContext:
        return await self._read(_MASTER, lambda ctx: auth.caller_for_session(ctx, session_token))

    async def current_user(self, session_token: str) -> JsonObject:
        return await self._read(_MASTER, lambda ctx: auth.current_user(ctx, session_token))

    async def current_session(self, session_token: str) -> JsonObject:
        return await self._read(_MASTER, lambda ctx: auth.current_session(ctx, session_token))


_MASTER = CallerContext.master()


def _precreate(ctx: writes.WriteContext) -> tuple[None, list[ChangeEvent]]:
    """``_User``, ``_Session`` and ``_Role`` exist from the start; then the
    named data migrations an older ``local.db`` still needs (see :mod:`sidecar.store.migrations`)."""
    for class_name in catalog_module.PRECREATED:
        ctx.catalog.ensure_class(ctx.connection, class_name)
    migrations.migrate(ctx.connection)
    return None, []
