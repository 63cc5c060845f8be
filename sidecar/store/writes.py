"""Write operations as plain functions run by the writer thread inside a transaction.

Each returns ``(result, events)``; events are released only after the commit (see ``sqlite.writer``).
"""

from __future__ import annotations

import copy
import functools
import math
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sidecar.errors import (
    DuplicateObjectIdError,
    DuplicateValueError,
    EmailTakenError,
    IncorrectTypeError,
    InvalidJsonError,
    InvalidKeyNameError,
    InvalidRoleNameError,
    MissingRequiredFieldError,
    ObjectNotFoundError,
    OperationForbiddenError,
    PreconditionFailedError,
    RequiredFieldError,
    UsernameTakenError,
)
from sidecar.random_batches import RandomBatches
from sidecar.store import acl, clp, passwords, sessions, special_classes
from sidecar.store.catalog import WorkingCatalog
from sidecar.store.codec import dump_json, normalise_iso, now_iso
from sidecar.store.interface import (
    BatchItemResult,
    BatchMethod,
    BatchOp,
    CallerContext,
    CallerKind,
    ChangeAction,
    ChangeEvent,
    CreateResult,
    SaveResult,
)
from sidecar.store.names import join_table, quote, validate_class_name
from sidecar.store.reads import ReadContext, load_row
from sidecar.store.records import CLIENT_ID_RE, FieldWrites, decode_row, encode, field_spec_for, split_body
from sidecar.store.schema import ClassSchema, FieldSchema
from sidecar.store.updates import RelationChange, apply_op

Events = list[ChangeEvent]
_ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9_\- ]+$")


@dataclass
class WriteContext:
    connection: sqlite3.Connection
    catalog: WorkingCatalog
    caller: CallerContext
    allow_class_creation: bool = True
    records_wanted: bool = True
    """False when nobody listens to changes: batch creates then skip building the full record."""
    session_lifetime: timedelta = sessions.DEFAULT_SESSION_LIFETIME
    """How long a session minted by this job lasts."""
    _now: str | None = None

    def now(self) -> str:
        """One timestamp per job: every object written by one batch carries the same instant."""
        if self._now is None:
            self._now = now_iso()
        return self._now

    def reader(self) -> ReadContext:
        return ReadContext(self.connection, self.catalog.schemas, self.caller)

    def schema_for_write(self, class_name: str) -> ClassSchema:
        validate_class_name(class_name)
        schema = self.catalog.get(class_name)
        if schema is not None:
            return schema
        if not (self.caller.is_master or self.allow_class_creation):
            raise OperationForbiddenError(
                f"This user is not allowed to access non-existent class: {class_name}"
            )
        return self.catalog.ensure_class(self.connection, class_name)

    def ensure_field(self, schema: ClassSchema, name: str, spec: FieldSchema) -> ClassSchema:
        """Add a column on first write (addField CLP for non-master), or check the type matches (111)."""
        existing = schema.fields.get(name)
        if existing is not None:
            if existing.type != spec.type:
                raise IncorrectTypeError(
                    f"schema mismatch for {schema.class_name}.{name}; "
                    f"expected {existing.type} but got {spec.type}"
                )
            return schema
        clp.check(schema.clp, "addField", self.caller, schema.class_name)
        return self.catalog.add_field(self.connection, schema.class_name, name, spec)


def create(
    ctx: WriteContext, class_name: str, body: Mapping[str, Any], *, full_record: bool = True
) -> tuple[CreateResult, Events]:
    schema = ctx.schema_for_write(class_name)
    clp.check(schema.clp, "create", ctx.caller, class_name)
    shown = None
    if class_name in special_classes.GUARDED:
        body, shown = special_classes.before_create(ctx.caller, class_name, body, ctx.session_lifetime)
    given_id = body.get("objectId")
    object_id = uuid4_text() if given_id is None else client_object_id(given_id)
    writes = split_body(body, creating=True)
    is_user = class_name == "_User"
    if class_name == "_Role":
        check_new_role(writes)
    if is_user and "emailVerified" in writes.values and not ctx.caller.is_master:
        raise OperationForbiddenError("Clients aren't allowed to manually update email verification.")
    fill_defaults_and_check_required(schema, writes)
    owner = creator_owner(ctx.caller, schema)
    if owner is not None:
        writes.values["owner"] = {"__type": "Pointer", "className": "_User", "objectId": owner}
    acl_value = acl_for_create(class_name, writes, object_id, owner)
    now = ctx.now()
    columns: dict[str, Any] = {}
    for name, value in writes.values.items():
        if value is None:
            continue
        if is_user and name == "password":
            columns["_hashed_password"] = passwords.hash_password(password_value(value))
            continue
        field = schema.fields.get(name)
        if field is None:
            spec = field_spec_for(value)
            assert spec is not None
            schema = ctx.ensure_field(schema, name, spec)
        else:  # records.encode's common cases, inlined: every field of every created row
            kind, value_type = field.type, type(value)
            if kind == "String" and value_type is str:
                columns[name] = value
                continue
            if kind == "Number" and (value_type is int or value_type is float) and math.isfinite(value):
                columns[name] = float(value)
                continue
            if kind == "Boolean" and value_type is bool:
                columns[name] = 1 if value else 0
                continue
        columns[name] = encode(schema, name, value)
    columns["objectId"] = object_id
    columns["createdAt"] = columns["updatedAt"] = now
    columns["_rperm"], columns["_wperm"] = acl.acl_to_lists(acl_value)
    try:
        ctx.connection.execute(_insert_statement(class_name, tuple(columns)), tuple(columns.values()))
    except sqlite3.IntegrityError as exc:
        raise _integrity_error(exc, class_name, object_id) from exc
    for change in writes.relations:
        schema = _apply_relation(ctx, schema, object_id, change)
    # What was inserted, decoded (no need to read it back); skipped for unobserved batch items.
    stored = decode_row(schema, columns) if full_record else {"objectId": object_id}
    if class_name == "_Session":  # the digest goes nowhere; the token is shown to this caller only
        stored = sessions.hide_token(stored)
        event = ChangeEvent(ChangeAction.CREATE, class_name, object_id, stored)
        return CreateResult(object_id, now, {**stored, **(shown or {})}, shown), [event]
    event = ChangeEvent(ChangeAction.CREATE, class_name, object_id, stored)
    return CreateResult(object_id, now, stored), [event]


def save(
    ctx: WriteContext,
    class_name: str,
    object_id: str,
    body: Mapping[str, Any],
    expect: Mapping[str, Any] | None = None,
) -> tuple[SaveResult, Events]:
    schema = ctx.catalog.get(class_name)
    if schema is None or not isinstance(object_id, str):
        raise ObjectNotFoundError()
    clp.check(schema.clp, "update", ctx.caller, class_name)
    current = decode_row(schema, load_row(ctx.reader(), schema, object_id, "_wperm"))
    check_expectations(current, expect)
    if class_name in special_classes.GUARDED:
        body = special_classes.before_update(ctx.caller, class_name, body, current)
    writes = split_body(body, creating=False)
    changed, echoed = new_values(current, writes)
    check_required_kept(schema, changed)
    if class_name == "_User":
        _check_user_update(ctx, changed, object_id)
    assignments: dict[str, Any] = {}
    for name, value in changed.items():
        if name == "password" and class_name == "_User":
            assignments["_hashed_password"] = passwords.hash_password(password_value(value))
            continue
        spec = field_spec_for(value)
        if spec is not None:
            schema = ctx.ensure_field(schema, name, spec)
        if name in schema.fields:
            assignments[name] = encode(schema, name, value)
    if writes.acl_given:
        rperm, wperm = acl.acl_to_lists(None if writes.acl is None else acl.validate_acl(writes.acl))
        assignments.update({"_rperm": rperm, "_wperm": wperm})
    now = ctx.now()
    assignments["updatedAt"] = now
    sets = ", ".join(f"{quote(n)} = ?" for n in assignments)
    try:
        ctx.connection.execute(
            f'UPDATE {quote(class_name)} SET {sets} WHERE "objectId" = ?', (*assignments.values(), object_id)
        )
    except sqlite3.IntegrityError as exc:
        raise _integrity_error(exc, class_name, object_id) from exc
    for change in writes.relations:
        schema = _apply_relation(ctx, schema, object_id, change)
    stored = decode_row(schema, load_row(_master(ctx), schema, object_id))
    if class_name == "_Session":
        stored = sessions.hide_token(stored)
    event = ChangeEvent(ChangeAction.UPDATE, class_name, object_id, stored)
    return SaveResult(now, echoed, stored), [event]


def restore(
    ctx: WriteContext, class_name: str, record: Mapping[str, Any], hashed_password: str | None = None
) -> tuple[CreateResult, Events]:
    """Create a record as an export holds it: its objectId, createdAt and updatedAt kept (an import).
    Relation markers are skipped (their pairs are restored one by one); everything else is a create."""
    body = {
        key: value
        for key, value in record.items()
        if key not in ("createdAt", "updatedAt")
        and not (isinstance(value, Mapping) and value.get("__type") == "Relation")
    }
    created, events = create(ctx, class_name, body)
    stamps = {
        name: _restored_time(record.get(name), created.created_at) for name in ("createdAt", "updatedAt")
    }
    if hashed_password is not None and class_name == "_User":
        stamps["_hashed_password"] = hashed_password
    sets = ", ".join(f"{quote(n)} = ?" for n in stamps)
    ctx.connection.execute(
        f'UPDATE {quote(class_name)} SET {sets} WHERE "objectId" = ?', (*stamps.values(), created.object_id)
    )
    return created, events


def restore_relation(
    ctx: WriteContext, class_name: str, field_name: str, target_class: str, owning_id: str, related_id: str
) -> tuple[None, Events]:
    """One relation pair as an export holds it; the owning row must exist, its updatedAt stays as it is."""
    schema = ctx.catalog.get(class_name)
    if schema is None:
        raise ObjectNotFoundError()
    load_row(_master(ctx), schema, owning_id)  # 101 for a pair whose owner is not there
    change = RelationChange(field_name, (related_id,), (), target_class)
    _apply_relation(ctx, schema, owning_id, change)
    return None, []


def _restored_time(value: Any, fallback: str) -> str:
    if isinstance(value, Mapping) and value.get("__type") == "Date":
        value = value.get("iso")
    return normalise_iso(value) if isinstance(value, str) else fallback


def delete(ctx: WriteContext, class_name: str, object_id: str) -> tuple[None, Events]:
    schema = ctx.catalog.get(class_name)
    if schema is None or not isinstance(object_id, str):
        raise ObjectNotFoundError()
    clp.check(schema.clp, "delete", ctx.caller, class_name)
    special_classes.before_delete(ctx.caller, class_name)
    before = decode_row(schema, load_row(ctx.reader(), schema, object_id, "_wperm"))
    if class_name == "_Session":
        before = sessions.hide_token(before)
    ctx.connection.execute(f'DELETE FROM {quote(class_name)} WHERE "objectId" = ?', (object_id,))
    return None, [ChangeEvent(ChangeAction.DELETE, class_name, object_id, before)]


def batch(ctx: WriteContext, ops: list[BatchOp], transaction: bool) -> tuple[list[BatchItemResult], Events]:
    """All ops in this one transaction; without ``transaction`` each op can fail alone (own savepoint)."""
    results: list[BatchItemResult] = []
    events: Events = []
    if transaction:  # all or nothing: the writer's job savepoint already covers the whole batch
        for op in ops:
            body, op_events = _run_batch_op(ctx, op)
            results.append(BatchItemResult(success=body))
            events.extend(op_events)
        return results, events
    for index, op in enumerate(ops):
        savepoint = f"batch_{index}"
        ctx.connection.execute(f"SAVEPOINT {savepoint}")
        before = ctx.catalog.snapshot()
        try:
            body, op_events = _run_batch_op(ctx, op)
        except Exception as exc:
            ctx.connection.execute(f"ROLLBACK TO {savepoint}")
            ctx.connection.execute(f"RELEASE {savepoint}")
            ctx.catalog.restore(before)
            results.append(BatchItemResult(error=exc))
            continue
        ctx.connection.execute(f"RELEASE {savepoint}")
        results.append(BatchItemResult(success=body))
        events.extend(op_events)
    return results, events


def _run_batch_op(ctx: WriteContext, op: BatchOp) -> tuple[dict[str, Any], Events]:
    if op.method is BatchMethod.CREATE:
        created, events = create(ctx, op.class_name, op.body, full_record=ctx.records_wanted)
        return created.to_wire(), events
    if op.object_id is None:
        raise ObjectNotFoundError()
    if op.method is BatchMethod.SAVE:
        saved, events = save(ctx, op.class_name, op.object_id, op.body)
        return saved.to_wire(), events
    _, events = delete(ctx, op.class_name, op.object_id)
    return {}, events


# ---- helpers ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _insert_statement(class_name: str, names: tuple[str, ...]) -> str:
    """Statement text per column set; names were validated before they got here."""
    columns = ", ".join(quote(n) for n in names)
    return f"INSERT INTO {quote(class_name)} ({columns}) VALUES ({', '.join('?' * len(names))})"


def _master(ctx: WriteContext) -> ReadContext:
    return ReadContext(ctx.connection, ctx.catalog.schemas, CallerContext.master())


def _uuid4_texts(draw: bytes) -> list[str]:
    """Random (version 4) UUIDs as text, 32 hex digits of ``draw`` each."""
    digits = draw.hex()
    return [_uuid4_text(digits[i : i + 32]) for i in range(0, len(digits), 32)]


def _uuid4_text(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"
uuid4_text = RandomBatches(_uuid4_texts).take
"""A random (version 4) UUID as text."""


def client_object_id(given: Any) -> str:
    if not isinstance(given, str) or not CLIENT_ID_RE.match(given):
        raise InvalidKeyNameError('objectId must be a string of 1 to 128 letters, digits, "-" or "_".')
    return given


def password_value(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidJsonError("password must be a non-empty string")
    return value


def creator_owner(caller: CallerContext, schema: ClassSchema) -> str | None:
    """With the ``creatorOwns`` CLP, a user's new row belongs to that user."""
    if schema.clp.get("creatorOwns") is True and caller.kind is CallerKind.USER:
        return caller.user_id
    return None


def acl_for_create(
    class_name: str, writes: FieldWrites, object_id: str, owner: str | None
) -> dict[str, dict[str, bool]] | None:
    if writes.acl_given and writes.acl is not None:
        return acl.validate_acl(writes.acl)
    if class_name == "_User":
        return {object_id: {"read": True, "write": True}}  # private users by default (enforcePrivateUsers)
    if owner is not None:
        return {owner: {"read": True, "write": True}}
    return None


def _check_user_update(ctx: WriteContext, changed: Mapping[str, Any], user_id: str) -> None:
    """Only master may set ``emailVerified``; a new password ends the user's other sessions (as Parse 9.x)."""
    if "emailVerified" in changed and not ctx.caller.is_master:
        raise OperationForbiddenError("Clients aren't allowed to manually update email verification.")
    if "password" in changed:
        token = ctx.caller.session_token
        ctx.connection.execute(
            'DELETE FROM "_Session" WHERE "user" = ? AND "sessionToken" IS NOT ?',
            (user_id, sessions.token_digest(token) if token else None),
        )


def check_new_role(writes: FieldWrites) -> None:
    """Roles need a valid, unique name and an explicit ACL."""
    name = writes.values.get("name")
    if not isinstance(name, str) or not _ROLE_NAME_RE.match(name):
        raise InvalidRoleNameError("Role names must be nonempty strings of letters, digits, spaces, - and _.")
    if not writes.acl_given:
        raise MissingRequiredFieldError("Roles must have an ACL.")


def fill_defaults_and_check_required(schema: ClassSchema, writes: FieldWrites) -> None:
    """A new record takes each column's ``defaultValue`` it leaves out, then must have every column its
    schema marks ``required`` (Parse Server's order: a required column with a default never fails)."""
    for name, spec in schema.constrained_fields:
        if writes.values.get(name) is None and spec.default_value is not None:
            writes.values[name] = copy.deepcopy(spec.default_value)
        if spec.required and writes.values.get(name) is None:
            raise RequiredFieldError(name)


def check_required_kept(schema: ClassSchema, changed: Mapping[str, Any]) -> None:
    """An update may leave a required column out, not unset it (null or ``Delete``)."""
    for name, value in changed.items():
        if value is None:
            spec = schema.fields.get(name)
            if spec is not None and spec.required and spec.type != "Relation":
                raise RequiredFieldError(name)


def check_expectations(current: dict[str, Any], expect: Mapping[str, Any] | None) -> None:
    for name, wanted in (expect or {}).items():
        if dump_json(current.get(name)) != dump_json(wanted):
            raise PreconditionFailedError(f"precondition failed: {name} has changed", data={"field": name})


def new_values(current: dict[str, Any], writes: FieldWrites) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fields to store after applying plain sets, operators and dot-key updates; and the operator echo."""
    changed: dict[str, Any] = dict(writes.values)
    echoed: dict[str, Any] = {}
    for name, op in writes.ops.items():
        changed[name] = echoed[name] = apply_op(op, current.get(name), name)
    for key, value in writes.nested.items():
        head, *path = key.split(".")
        container = copy.deepcopy(changed.get(head, current.get(head)) or {})
        if not isinstance(container, dict):
            raise IncorrectTypeError(f"{head} is not an Object")
        _set_path(container, path, value)
        changed[head] = container
    return changed, echoed


def _set_path(container: dict[str, Any], path: list[str], value: Any) -> None:
    for segment in path[:-1]:
        inner = container.get(segment)
        if not isinstance(inner, dict):
            inner = container[segment] = {}
        container = inner
    if isinstance(value, Mapping) and value.get("__op") == "Delete":
        container.pop(path[-1], None)
    elif isinstance(value, Mapping) and value.get("__op") == "Increment":
        container[path[-1]] = apply_op(value, container.get(path[-1]), path[-1])
    else:
        container[path[-1]] = value


def _apply_relation(
    ctx: WriteContext, schema: ClassSchema, owner_id: str, change: RelationChange
) -> ClassSchema:
    spec = FieldSchema("Relation", change.target_class or _declared_target(schema, change.field_name))
    schema = ctx.ensure_field(schema, change.field_name, spec)
    declared = schema.fields[change.field_name].target_class
    if change.target_class not in (None, declared):
        raise IncorrectTypeError(f"Relation {change.field_name} holds {declared}, not {change.target_class}")
    table = quote(join_table(schema.class_name, change.field_name))
    ctx.connection.executemany(
        f'INSERT OR IGNORE INTO {table} ("owningId", "relatedId") VALUES (?, ?)',
        [(owner_id, related) for related in change.add],
    )
    ctx.connection.executemany(
        f'DELETE FROM {table} WHERE "owningId" = ? AND "relatedId" = ?',
        [(owner_id, related) for related in change.remove],
    )
    return schema


def _declared_target(schema: ClassSchema, field_name: str) -> str | None:
    spec = schema.fields.get(field_name)
    return spec.target_class if spec else None


def _integrity_error(exc: sqlite3.IntegrityError, class_name: str, object_id: str) -> Exception:
    message = str(exc)
    if message.endswith(f"{class_name}.objectId"):
        return DuplicateObjectIdError(f'objectId "{object_id}" is already used in "{class_name}".')
    fields = [part.split(".", 1)[-1].strip() for part in message.split(":", 1)[-1].split(",")]
    if class_name == "_User" and fields == ["username"]:
        return UsernameTakenError("Account already exists for this username.")
    if class_name == "_User" and fields == ["email"]:
        return EmailTakenError("Account already exists for this email address.")
    return DuplicateValueError(
        "A duplicate value for a field with unique values was provided",
        data={"collection": class_name, "fields": fields},
    )
