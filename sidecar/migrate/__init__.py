"""Moving an embedded (SQLite) backend onto PostgreSQL: records, schemas, users, sessions, roles and the
execution history, with progress and a verification count per table (``migration``). Doors: the
``backend:migrate-to-postgres`` channel and ``noodl-sidecar migrate`` (``command``)."""

from sidecar.migrate.migration import migrate_to_postgres

__all__ = ["migrate_to_postgres"]
