"""``backend:migrate-to-postgres``: copy a stopped embedded backend into a PostgreSQL database."""

from __future__ import annotations

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel
from ipc_schema.transfer import FileEntry


class MigrateOptions(WireModel):
    database_url: str = Field(description="The target: postgres://user:password@host:port/database")
    resume: bool = Field(
        False,
        description="Copy into a target that holds data, keeping its rows (also finishes an interrupted "
        "migration); without it such a target is refused",
    )


class MigrateParams(PositionalParams):
    backend_id: str
    options: MigrateOptions


class TableCount(WireModel):
    table: str = Field(description="A class, `Class.field` for a relation, `_Schema`, or a history table")
    source: int = Field(description="Rows in the embedded backend")
    target: int = Field(description="Rows in PostgreSQL after the copy")
    ok: bool = Field(description="Equal counts (into an empty target), or at least as many (resumed)")


class MigratedFiles(WireModel):
    count: int
    bytes: int
    location: str = Field(description="The files stay here; serve the migrated backend with this folder")
    entries: list[FileEntry] = Field(description="Each uploaded file's stored name and size")


class Migrated(WireModel):
    target: str = Field(description="The database URL, its password hidden")
    resumed: bool
    verified: bool = Field(description="Every table's count checked out")
    tables: list[TableCount]
    files: MigratedFiles
