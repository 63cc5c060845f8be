"""``backend:export-data`` and ``backend:import-data``: a backend's records out and in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class ExportDataOptions(WireModel):
    format: Literal["jsonl", "postgres", "supabase"] = Field(
        description="jsonl: header, schemas, records, relation pairs and files' metadata, one JSON a line; "
        "postgres/supabase: CREATE TABLE statements, then INSERTs of the rows"
    )
    classes: list[str] | None = Field(None, description="The classes to export (nil: all but _Session)")
    include_password_hashes: bool = Field(False, description="Users' password hashes go along only if true")
    path: str | None = Field(None, description="Write the export to this file instead of answering it")


class ExportDataParams(PositionalParams):
    backend_id: str
    options: ExportDataOptions


class FileEntry(WireModel):
    name: str
    size: int


class DataExported(WireModel):
    format: str
    counts: dict[str, int] = Field(description="Rows exported per class")
    files: list[FileEntry] = Field(description="Uploaded files (metadata only; the bytes stay in files/)")
    content: str | None = Field(None, description="The export, unless it was written to `path`")
    path: str | None = None
    bytes: int


class ImportDataOptions(WireModel):
    format: Literal["jsonl", "parse"] = Field(
        description="jsonl: an export of backend:export-data; parse: a Parse Server export of one class "
        '(`{"results": [...]}`), named by `className`'
    )
    content: str | None = Field(None, description="The export's text (or give `path`)")
    path: str | None = Field(None, description="A file holding the export")
    class_name: str | None = Field(None, description="parse: the class the results belong to")
    dry_run: bool = Field(False, description="Check every row and report, writing nothing")


class ImportDataParams(PositionalParams):
    backend_id: str
    options: ImportDataOptions


class RejectedRow(WireModel):
    line: int = Field(description="The line (jsonl) or 1-based result index (parse); 0 for a schema")
    class_name: str | None = None
    object_id: str | None = None
    reason: str


class DataImported(WireModel):
    dry_run: bool
    format: str
    rows: int = Field(description="Record rows read")
    accepted: int = Field(description="Rows written (a dry run: rows that would be)")
    relations: int
    files: int = Field(description="File lines read (their bytes are not part of an export)")
    counts: dict[str, int]
    new_fields: dict[str, dict[str, str]] = Field(
        description="Per class, the columns (and types) the import adds to the target's schema: declared "
        "by the export's schema lines or inferred from its rows"
    )
    rejected_count: int
    rejected: list[RejectedRow] = Field(description="The first 1,000 rows refused, with the reason")
