"""The execution history's tables on PostgreSQL: the contract's tables and columns as ``executions.sqlite``
has them (``sidecar.history.schema``), in the backend's database beside its records.

What differs from the SQLite file, and why:

- ``workflow_executions.seqno`` (an identity) stands in for SQLite's ``rowid``: the keyset tie-breaker and
  the recording order full-text search pages by;
- ``workflow_executions.runner`` names the replica that recorded the row (``application_name`` of its
  connections), so a starting replica marks interrupted only the runs of replicas that are gone, never a
  run another live replica is still recording;
- ``execution_search`` holds the searchable body per execution with a generated ``tsvector`` (the
  ``simple`` configuration: lower-cased words, no stemming, like FTS5's ``unicode61``) and a GIN index; it
  follows its execution by cascade;
- ``noodl_history_event_log`` keeps live events too large for one notification (``pg_events``);
- ``noodl_try_jsonb`` reads JSON text that may not be JSON (a step payload is text) as NULL, the way
  SQLite's ``json_valid`` guards it.

Every statement is idempotent; replicas run them one at a time under an advisory lock.
"""

from __future__ import annotations

from sidecar.history.payload import EVENT_PREVIEW_CHARS, SEARCH_BODY_MAX_CHARS

BOOTSTRAP_LOCK = 727100022
"""Advisory lock key held while the tables are made (the record store's is 727100021)."""
RUNNER_PREFIX = "noodl-history:"
"""``application_name`` of a recording replica's connections: the prefix, then its runner id."""

BOOTSTRAP = (
    """CREATE TABLE IF NOT EXISTS workflow_executions (
        id text PRIMARY KEY,
        workflow_id text NOT NULL,
        workflow_name text NOT NULL,
        trigger_type text NOT NULL,
        trigger_data text,
        status text NOT NULL,
        started_at bigint NOT NULL,
        completed_at bigint,
        duration_ms bigint,
        error_message text,
        error_stack text,
        metadata text,
        last_seq bigint NOT NULL DEFAULT 0,
        seqno bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        runner text
    )""",
    """CREATE TABLE IF NOT EXISTS execution_steps (
        id text PRIMARY KEY,
        execution_id text NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
        node_id text NOT NULL,
        node_type text NOT NULL,
        node_name text,
        step_index bigint NOT NULL,
        started_at bigint NOT NULL,
        completed_at bigint,
        duration_ms bigint,
        status text NOT NULL,
        input_data text,
        output_data text,
        error_message text,
        run_index bigint NOT NULL DEFAULT 0,
        start_seq bigint NOT NULL DEFAULT 0,
        seq bigint NOT NULL DEFAULT 0,
        input_size bigint NOT NULL DEFAULT 0,
        output_size bigint NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS idx_executions_status ON workflow_executions(status, started_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_executions_started ON workflow_executions(started_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_executions_workflow_started "
    "ON workflow_executions(workflow_id, started_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_steps_node ON execution_steps(node_id)",
    "CREATE INDEX IF NOT EXISTS idx_steps_execution_order ON execution_steps(execution_id, step_index)",
    "CREATE INDEX IF NOT EXISTS idx_executions_running ON workflow_executions(runner) "
    "WHERE status = 'running'",
    """CREATE OR REPLACE VIEW old_executions AS
        SELECT id, workflow_id, started_at, status,
               (extract(epoch FROM now()) * 1000)::bigint - started_at AS age_ms
        FROM workflow_executions ORDER BY started_at ASC""",
    """CREATE TABLE IF NOT EXISTS execution_search (
        seqno bigint PRIMARY KEY REFERENCES workflow_executions(seqno) ON DELETE CASCADE,
        body text NOT NULL,
        document tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED
    )""",
    "CREATE INDEX IF NOT EXISTS idx_execution_search ON execution_search USING gin (document)",
    "CREATE TABLE IF NOT EXISTS noodl_history_event_log (id bigserial PRIMARY KEY, payload text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE OR REPLACE FUNCTION noodl_try_jsonb(value text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS "
    "$$ BEGIN RETURN value::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $$",
)

SEARCH_BODY = f"""left(j.body || E'\\n' || coalesce((
        SELECT string_agg(
            CASE WHEN length(s.output_data) > {EVENT_PREVIEW_CHARS}
                 THEN left(s.output_data, {EVENT_PREVIEW_CHARS}) || '...' ELSE s.output_data END,
            E'\\n' ORDER BY s.step_index)
        FROM execution_steps AS s WHERE s.execution_id = e.id
    ), ''), {SEARCH_BODY_MAX_CHARS})"""
"""An execution's search body (over ``j.body``, its error texts, and ``e``, its row): as the SQLite
writer's trigger makes it, the error texts and then a preview of each stored step output."""
