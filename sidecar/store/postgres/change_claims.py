"""Database-change fires claimed once across replicas: one ``noodl_change_claims`` row (an outbox row) per
(committed change, matching trigger), written in the change's own transaction.

The replica that makes the change inserts the rows already claimed by itself, with a lease, in the same
transaction as the write: a rolled-back write leaves no row, a committed one cannot lose its fire. After the
commit that replica fires them, renewing each lease while its fire runs, and deletes each row when its fire
ends. A replica killed before or during a fire stops renewing: once the lease has expired another replica's
recovery pass (:meth:`PostgresChangeClaims.abandoned`, one ``UPDATE … FOR UPDATE SKIP LOCKED`` statement,
so two replicas never take the same row) claims the row and fires it. The lease is the schedule fires' one
(``NOODL_FIRE_LEASE_SECONDS``, :mod:`sidecar.store.postgres.fire_claims`). A row carries the change itself
(action, class, object id, record) so the taker-over needs nothing else. Writes to classes without a
matching trigger write no row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from sidecar.store.interface import ChangeAction, ChangeEvent, JsonObject
from sidecar.store.postgres.fire_claims import LeasedClaims
from sidecar.store.postgres.pool import bootstrap

TABLE = "noodl_change_claims"
BOOTSTRAP = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id text PRIMARY KEY, trigger_id text NOT NULL, "
    "action text NOT NULL, class_name text NOT NULL, object_id text NOT NULL, record jsonb, "
    "claimed_by text NOT NULL, lease_until timestamptz NOT NULL, claims integer NOT NULL DEFAULT 1, "
    "done boolean NOT NULL DEFAULT false, seq bigserial NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_lease ON {TABLE} (done, lease_until)",
)
KEEP_DONE = timedelta(minutes=10)
"""How long a finished row is kept (who fired it, and whether it was taken over, for a drill to read)."""
RECOVER_BATCH = 100


@dataclass(frozen=True)
class ClaimedChange:
    """A change taken over from a dead replica: a ``ChangeRecord`` with the one claim it carries."""

    claim_id: str
    trigger_id: str
    action: ChangeAction
    class_name: str
    object_id: str
    record: JsonObject

    @property
    def claims(self) -> tuple[tuple[str, str], ...]:
        return ((self.trigger_id, self.claim_id),)


class PostgresChangeClaims(LeasedClaims):
    """:class:`sidecar.triggers.ports.ChangeClaims` on the backend's PostgreSQL database."""

    async def prepare(self) -> None:
        await bootstrap(self._pool, 727100023, BOOTSTRAP)

    async def record(
        self, connection: asyncpg.Connection, claimed: Sequence[tuple[ChangeEvent, Sequence[str]]]
    ) -> None:
        """Inside the write's transaction: claim a fire of each trigger for each change, for this replica,
        and note the claims on the events (the trigger router fires them after the commit)."""
        statement = self.insert_statement(claimed, 1)
        if statement is not None:
            await connection.execute(statement[0], *statement[1])

    def insert_statement(
        self, claimed: Sequence[tuple[ChangeEvent, Sequence[str]]], first: int
    ) -> tuple[str, list[Any]] | None:
        """The ``INSERT`` claiming those fires, its parameters numbered from ``first`` (a one-statement
        create puts it beside its own ``INSERT``), and the claims noted on the events; None: no fire."""
        columns: list[list[str]] = [[], [], [], [], [], []]  # id, trigger, action, class, object, record
        for event, trigger_ids in claimed:
            if not trigger_ids:
                continue
            record = orjson.dumps(event.record).decode()
            claims = []
            for trigger_id in trigger_ids:
                claim_id = uuid.uuid4().hex
                claims.append((trigger_id, claim_id))
                row = (claim_id, trigger_id, event.action.value, event.class_name, event.object_id, record)
                for column, value in zip(columns, row, strict=True):
                    column.append(value)
            event.claims = tuple(claims)
        if not columns[0]:
            return None
        p = [f"${first + n}" for n in range(8)]
        statement = (
            f"INSERT INTO {TABLE} (id, trigger_id, action, class_name, object_id, record, claimed_by, "
            f"lease_until) SELECT i, t, a, c, o, r::jsonb, {p[6]}, now() + {p[7]}::interval "
            f"FROM unnest({p[0]}::text[], {p[1]}::text[], {p[2]}::text[], {p[3]}::text[], {p[4]}::text[], "
            f"{p[5]}::text[]) AS u(i, t, a, c, o, r)"
        )
        return statement, [*columns, self.replica_id, self.lease]

    async def renew(self, claim_id: str) -> bool:
        renewed = await self._pool.fetchval(
            f"UPDATE {TABLE} SET lease_until = now() + $3::interval WHERE id = $1 AND claimed_by = $2 "
            "AND NOT done RETURNING true",
            claim_id,
            self.replica_id,
            self.lease,
        )
        return bool(renewed)

    async def finish(self, claim_id: str) -> None:
        await self._pool.execute(
            f"UPDATE {TABLE} SET done = true, record = NULL, lease_until = now() WHERE id = $1", claim_id
        )

    async def abandoned(self) -> list[ClaimedChange]:
        """Claim (for this replica) up to 100 rows whose lease expired unfinished: their replica died.
        Deletes the rows finished more than :data:`KEEP_DONE` ago first."""
        await self._pool.execute(
            f"DELETE FROM {TABLE} WHERE done AND lease_until < now() - $1::interval", KEEP_DONE
        )
        rows: list[Any] = await self._pool.fetch(
            f"UPDATE {TABLE} AS c SET claimed_by = $1, lease_until = now() + $2::interval, "
            "claims = c.claims + 1 "
            f"FROM (SELECT id FROM {TABLE} WHERE NOT done AND lease_until < now() ORDER BY seq "
            f"LIMIT {RECOVER_BATCH} FOR UPDATE SKIP LOCKED) AS due WHERE c.id = due.id "
            "RETURNING c.id, c.trigger_id, c.action, c.class_name, c.object_id, c.record, c.seq",
            self.replica_id,
            self.lease,
        )
        rows.sort(key=lambda row: row["seq"])
        return [
            ClaimedChange(
                row["id"],
                row["trigger_id"],
                ChangeAction(row["action"]),
                row["class_name"],
                row["object_id"],
                orjson.loads(row["record"]) if isinstance(row["record"], str) else row["record"],
            )
            for row in rows
        ]
