"""Schedule fires claimed once across replicas: one ``noodl_fire_claims`` row per (trigger, scheduled-for).

The first replica to insert a fire's row runs it, holding a lease that it renews while the fire runs; the
others see the row and skip the fire. ``finish`` marks it done. A replica that dies mid-fire leaves its row
unfinished and stops renewing: once the lease has expired, another replica's recovery pass
(:meth:`PostgresFireClaims.abandoned`, then ``claim``) takes the fire over. A slow fire on a live replica is
never taken over. The claim is a single ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` statement, so two
replicas can never both win it. (The pattern of Windmill's ``FOR UPDATE SKIP LOCKED`` queue, with the
fire's natural key as the row's identity instead of a queue id.) A fire taken over after its replica died
mid-run may have done part of its work already: targets that must not repeat an effect key it on
``trigger.scheduledFor``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

import asyncpg

from sidecar.store.postgres.notify import new_replica_id
from sidecar.store.postgres.pool import Database, bootstrap

DEFAULT_LEASE = timedelta(minutes=5)
LEASE_SETTING = "NOODL_FIRE_LEASE_SECONDS"
"""Overrides the lease (seconds): a drill that kills replicas wants their fires taken over quickly."""
KEEP_DONE = timedelta(days=2)
"""How long finished claims are kept (a slot that old is never offered again by a scheduler)."""

BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS noodl_fire_claims (trigger_id text NOT NULL, slot double precision NOT NULL, "
    "claimed_by text NOT NULL, lease_until timestamptz NOT NULL, done boolean NOT NULL DEFAULT false, "
    "PRIMARY KEY (trigger_id, slot))",
    # How many replicas claimed the fire: more than one when it was taken over from a dead replica.
    "ALTER TABLE noodl_fire_claims ADD COLUMN IF NOT EXISTS claims integer NOT NULL DEFAULT 1",
)


def lease_from_env(environ: Mapping[str, str] = os.environ) -> timedelta:
    """The lease ``NOODL_FIRE_LEASE_SECONDS`` asks for, else :data:`DEFAULT_LEASE`."""
    value = environ.get(LEASE_SETTING, "")
    if not value:
        return DEFAULT_LEASE
    try:
        seconds = float(value)
        if seconds <= 0:
            raise ValueError(value)
    except ValueError as error:
        raise ValueError(f"{LEASE_SETTING} must be a positive number of seconds, not {value!r}") from error
    return timedelta(seconds=seconds)


class LeasedClaims:
    """What the claim tables of schedule fires and database changes share: the pool, the lease a claim
    holds before another replica may take it over, and this replica's id (who claimed)."""

    def __init__(self, pool: Database, *, lease: timedelta = DEFAULT_LEASE) -> None:
        self._pool = pool
        self.lease = lease
        self.replica_id = new_replica_id()

    @property
    def lease_seconds(self) -> float:
        return self.lease.total_seconds()


class PostgresFireClaims(LeasedClaims):
    """:class:`sidecar.triggers.ports.FireClaims` on the backend's PostgreSQL database."""

    async def prepare(self) -> None:
        await bootstrap(self._pool, 727100022, BOOTSTRAP, then=_forget_old_fires)

    async def claim(self, trigger_id: str, slot: float) -> bool:
        won = await self._pool.fetchval(
            "INSERT INTO noodl_fire_claims (trigger_id, slot, claimed_by, lease_until) "
            "VALUES ($1, $2, $3, now() + $4::interval) ON CONFLICT (trigger_id, slot) DO UPDATE "
            "SET claimed_by = excluded.claimed_by, lease_until = excluded.lease_until, "
            "claims = noodl_fire_claims.claims + 1 "
            "WHERE NOT noodl_fire_claims.done AND noodl_fire_claims.lease_until < now() RETURNING true",
            trigger_id,
            slot,
            self.replica_id,
            self.lease,
        )
        return bool(won)

    async def renew(self, trigger_id: str, slot: float) -> bool:
        renewed = await self._pool.fetchval(
            "UPDATE noodl_fire_claims SET lease_until = now() + $4::interval "
            "WHERE trigger_id = $1 AND slot = $2 AND claimed_by = $3 AND NOT done RETURNING true",
            trigger_id,
            slot,
            self.replica_id,
            self.lease,
        )
        return bool(renewed)

    async def finish(self, trigger_id: str, slot: float) -> None:
        await self._pool.execute(
            "UPDATE noodl_fire_claims SET done = true WHERE trigger_id = $1 AND slot = $2", trigger_id, slot
        )

    async def abandoned(self) -> list[tuple[str, float]]:
        rows = await self._pool.fetch(
            "SELECT trigger_id, slot FROM noodl_fire_claims WHERE NOT done AND lease_until < now() "
            "ORDER BY slot LIMIT 100"
        )
        return [(row["trigger_id"], float(row["slot"])) for row in rows]


async def _forget_old_fires(connection: asyncpg.Connection) -> None:
    await connection.execute(
        "DELETE FROM noodl_fire_claims WHERE done AND lease_until < now() - $1::interval", KEEP_DONE
    )
