"""Moving a backend's records out and in: the editor's migration panel and ``noodl-sidecar export|import``.

Export (``export_data``): all classes but sessions, or the chosen ones, as JSON lines (header, schemas,
records, relation pairs, then the uploaded files' metadata) or as PostgreSQL / Supabase SQL (tables and
rows). Users' password hashes stay behind unless asked for.

Import (``import_data``) reads JSON lines made by the export, or a Parse Server export of one class
(``{"results": [...]}``). Every row is checked before anything is written — its class, its objectId
(already taken?), each value's type against the schema so far (the target's, the file's schema lines,
then what earlier rows inferred) — and a row that fails is reported with its line and reason, never
written; the others are. ``dry_run`` does the checks and writes nothing. Progress goes to a callback.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError, ObjectNotFoundError, SidecarError, StoreError
from sidecar.store import CallerContext
from sidecar.store.codec import infer_type
from sidecar.store.export import RECORDS_FORMAT

Progress = Callable[[str, int, int], None]
"""(stage, done, total): called as rows are checked and written."""

BASE_FIELDS = frozenset({"objectId", "createdAt", "updatedAt", "ACL"})
MAX_REJECTED_LISTED = 1000
_MASTER = CallerContext.master()


def files_metadata(files_dir: Path) -> list[dict[str, Any]]:
    """Name and size of each uploaded file (the bytes stay in the backend's ``files/`` folder)."""
    if not files_dir.is_dir():
        return []
    return [
        {"name": entry.name, "size": entry.stat().st_size}
        for entry in sorted(files_dir.iterdir())
        if entry.is_file() and not entry.name.startswith(".")
    ]


async def export_data(
    store: Any,
    files_dir: Path,
    fmt: str,
    classes: Sequence[str] | None = None,
    password_hashes: bool = False,
) -> dict[str, Any]:
    """``{format, content, counts, files}``; JSON lines end with one ``file`` line per uploaded file."""
    content, counts = await store.export_records(fmt, classes, password_hashes)
    files = await asyncio.to_thread(files_metadata, files_dir)
    if fmt == "jsonl":
        content += "".join(
            json.dumps({"type": "file", **entry}, separators=(",", ":")) + "\n" for entry in files
        )
    return {"format": fmt, "content": content, "counts": counts, "files": files}


async def export_to(
    store: Any,
    files_dir: Path,
    fmt: str,
    classes: Sequence[str] | None,
    password_hashes: bool,
    path: str | None,
) -> dict[str, Any]:
    """``export_data``, written to ``path`` (owner-only) when one is given instead of answered."""
    done = await export_data(store, files_dir, fmt, classes, password_hashes)
    content = done.pop("content")
    encoded = content.encode("utf-8")
    if path is None:
        return {**done, "content": content, "path": None, "bytes": len(encoded)}
    target = Path(path)
    try:
        await asyncio.to_thread(_write_private, target, encoded)
    except OSError as exc:
        raise InvalidParamsError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return {**done, "content": None, "path": str(target), "bytes": len(encoded)}


def _write_private(target: Path, data: bytes) -> None:
    # Exports hold user records (and maybe password hashes): readable by the owner only.
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


async def read_import_text(content: str | None, path: str | None) -> str:
    """The export to import: given inline, or read from a file (exactly one of the two)."""
    if (content is None) == (path is None):
        raise InvalidParamsError("give the export as `content` or as `path`, not both or neither")
    if content is not None:
        return content
    source = Path(str(path))
    try:
        return await asyncio.to_thread(source.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParamsError(f"cannot read {source}: {exc}") from exc


# ---- import ------------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    class_name: str
    record: dict[str, Any]
    hashed_password: str | None = None


@dataclass
class _Relation:
    line: int
    class_name: str
    field: str
    target_class: str
    owning_id: str
    related_id: str


@dataclass
class _Parsed:
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[_Row] = field(default_factory=list)
    relations: list[_Relation] = field(default_factory=list)
    files: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _reject(
    parsed: _Parsed, line: int, reason: str, class_name: str | None = None, object_id: Any = None
) -> None:
    parsed.rejected.append({"line": line, "className": class_name, "objectId": object_id, "reason": reason})


def parse_jsonl(lines: Iterable[str]) -> _Parsed:
    parsed = _Parsed()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError as exc:
            _reject(parsed, number, f"not JSON: {exc}")
            continue
        kind = item.get("type") if isinstance(item, dict) else None
        name = item.get("className") if isinstance(item, dict) else None
        if kind == "header":
            if item.get("format") != RECORDS_FORMAT:
                raise InvalidParamsError(
                    f"not a {RECORDS_FORMAT} export (header format {item.get('format')!r})"
                )
        elif kind == "schema" and isinstance(name, str) and isinstance(item.get("schema"), dict):
            parsed.schemas[name] = item["schema"]
        elif kind == "record" and isinstance(name, str) and isinstance(item.get("record"), dict):
            hashed = item.get("hashedPassword")
            parsed.rows.append(
                _Row(number, name, item["record"], hashed if isinstance(hashed, str) else None)
            )
        elif kind == "relation" and all(
            isinstance(item.get(key), str)
            for key in ("className", "field", "targetClass", "owningId", "relatedId")
        ):
            parsed.relations.append(
                _Relation(
                    number,
                    item["className"],
                    item["field"],
                    item["targetClass"],
                    item["owningId"],
                    item["relatedId"],
                )
            )
        elif kind == "file":
            parsed.files += 1
        else:
            _reject(parsed, number, f"not a header, schema, record, relation or file line ({kind!r})", name)
    return parsed


def parse_parse_export(text: str, class_name: str) -> _Parsed:
    """Parse Server's per-class export: ``{"results": [object, ...]}``; row numbers are 1-based indexes."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidParamsError(f"not a Parse Server export: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise InvalidParamsError('not a Parse Server export: no "results" array')
    parsed = _Parsed()
    for number, record in enumerate(results, start=1):
        if not isinstance(record, dict):
            _reject(parsed, number, "a result that is not an object", class_name)
            continue
        hashed = record.get("_hashed_password")
        # Internal columns a database dump may carry (_rperm, _wperm, _acl, …) are not fields.
        kept = {key: value for key, value in record.items() if not key.startswith("_")}
        parsed.rows.append(_Row(number, class_name, kept, hashed if isinstance(hashed, str) else None))
    return parsed


def _field_types(schema: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    fields = schema.get("fields")
    if not isinstance(fields, dict):
        return {}
    return {
        name: (str(spec.get("type")), spec.get("targetClass"))
        for name, spec in fields.items()
        if isinstance(spec, dict) and name not in BASE_FIELDS
    }


class _Checker:
    """Types per class as known so far: the target's schema, the file's schema lines, then inference."""

    def __init__(self, existing: dict[str, dict[str, Any]], declared: dict[str, dict[str, Any]]) -> None:
        self.types: dict[str, dict[str, tuple[str, str | None]]] = {}
        self.new_fields: dict[str, dict[str, str]] = {}
        """Columns the import adds to the target's schema: declared by the file or inferred from rows."""
        for source in (existing, declared):
            for name, schema in source.items():
                known = self.types.setdefault(name, {})
                for field_name, kind in _field_types(schema).items():
                    if field_name not in known and source is declared:
                        self.new_fields.setdefault(name, {})[field_name] = kind[0]
                    known.setdefault(field_name, kind)

    def problem(self, row: _Row) -> str | None:
        known = self.types.setdefault(row.class_name, {})
        fresh: dict[str, tuple[str, str | None]] = {}
        for name, value in row.record.items():
            if name in BASE_FIELDS:
                continue
            try:
                kind = infer_type(value)
            except SidecarError as exc:
                return f"{name}: {exc.message}"
            if kind is None or kind == "Relation":
                continue
            target = value.get("className") if kind == "Pointer" else None
            have = known.get(name) or fresh.get(name)
            if have is None:
                fresh[name] = (kind, target)
            elif have[0] != kind or (kind == "Pointer" and have[1] != target):
                shown = f"Pointer<{have[1]}>" if have[0] == "Pointer" else have[0]
                return f"{name} is {kind} here but {shown} in the schema"
        for name, pair in fresh.items():
            known[name] = pair
            self.new_fields.setdefault(row.class_name, {})[name] = pair[0]
        return None


async def _existing_schemas(store: Any) -> dict[str, dict[str, Any]]:
    return {str(schema["className"]): schema for schema in await store.list_schemas()}


async def _taken(store: Any, row: _Row) -> bool:
    object_id = row.record.get("objectId")
    if not isinstance(object_id, str):
        return False
    try:
        await store.fetch(row.class_name, object_id, _MASTER)
    except (ObjectNotFoundError, StoreError):
        return False
    return True


async def _declare_classes(store: Any, parsed: _Parsed, existing: dict[str, dict[str, Any]]) -> None:
    """Classes and columns the file declares that the target lacks (with their CLPs for new classes)."""
    for name, schema in parsed.schemas.items():
        wanted = {
            field_name: spec
            for field_name, spec in (schema.get("fields") or {}).items()
            if field_name not in BASE_FIELDS and isinstance(spec, dict)
        }
        try:
            if name not in existing:
                definition: dict[str, Any] = {"fields": wanted}
                if isinstance(schema.get("classLevelPermissions"), dict):
                    definition["classLevelPermissions"] = schema["classLevelPermissions"]
                await store.create_class(name, definition)
                continue
            have = (existing[name].get("fields") or {}).keys()
            missing = {key: spec for key, spec in wanted.items() if key not in have}
            if missing:
                await store.update_class(name, {"fields": missing})
        except SidecarError as exc:
            _reject(parsed, 0, f"schema of {name}: {exc.message}", name)


async def import_data(
    store: Any,
    text: str,
    fmt: str,
    *,
    class_name: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Check every row, then (unless ``dry_run``) write the good ones; the report lists the rejected."""
    if fmt == "jsonl":
        parsed = parse_jsonl(text.splitlines())
    elif fmt == "parse":
        if not class_name:
            raise InvalidParamsError("a Parse Server export needs the class name it holds")
        parsed = parse_parse_export(text, class_name)
    else:
        raise InvalidParamsError(f"unknown import format: {fmt}")
    report = progress or (lambda _stage, _done, _total: None)
    existing = await _existing_schemas(store)
    checker = _Checker(existing, parsed.schemas)
    accepted: list[_Row] = []
    total = len(parsed.rows)
    for done, row in enumerate(parsed.rows, start=1):
        problem = checker.problem(row)
        if problem is None and await _taken(store, row):
            problem = f"objectId {row.record.get('objectId')} already exists in {row.class_name}"
        if problem is None:
            accepted.append(row)
        else:
            _reject(parsed, row.line, problem, row.class_name, row.record.get("objectId"))
        report("check", done, total)
    imported = relations = 0
    counts: dict[str, int] = {}
    if not dry_run:
        await _declare_classes(store, parsed, existing)
        for done, row in enumerate(accepted, start=1):
            try:
                await store.restore_record(row.class_name, row.record, row.hashed_password)
            except SidecarError as exc:
                _reject(parsed, row.line, exc.message, row.class_name, row.record.get("objectId"))
            else:
                imported += 1
                counts[row.class_name] = counts.get(row.class_name, 0) + 1
            report("import", done, len(accepted))
        for pair in parsed.relations:
            try:
                await store.restore_relation(
                    pair.class_name, pair.field, pair.target_class, pair.owning_id, pair.related_id
                )
            except SidecarError as exc:
                _reject(
                    parsed,
                    pair.line,
                    f"relation {pair.field}: {exc.message}",
                    pair.class_name,
                    pair.owning_id,
                )
            else:
                relations += 1
    else:
        for row in accepted:
            counts[row.class_name] = counts.get(row.class_name, 0) + 1
    rejected = sorted(parsed.rejected, key=lambda item: item["line"])
    return {
        "dryRun": dry_run,
        "format": fmt,
        "rows": total,
        "accepted": len(accepted) if dry_run else imported,
        "relations": len(parsed.relations) if dry_run else relations,
        "files": parsed.files,
        "counts": counts,
        "newFields": checker.new_fields,
        "rejectedCount": len(rejected),
        "rejected": rejected[:MAX_REJECTED_LISTED],
    }
