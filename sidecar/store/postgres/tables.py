"""The PostgreSQL layout of one backend's records: every class in one JSONB table, keyed by class and id.

- ``noodl_schema``: one row per class, its schema as ``/schemas`` answers it (JSONB);
- ``noodl_records``: ``doc`` is the object in Parse REST encoding (nulls absent, ``ACL`` when set); the id and
  dates are also columns, ``rperm``/``wperm`` the ACL as principal arrays (NULL = public, ``&&`` tests a
  caller), ``secret`` a user's password hash (never in ``doc``, so no read can return it);
- ``noodl_relations``: Relation fields as (class, field, owning id, related id) rows.

Unique usernames, emails, role names and session tokens are partial expression indexes, as the SQLite
store's system indexes are.
"""

from __future__ import annotations

BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS noodl_schema (class_name text PRIMARY KEY, schema jsonb NOT NULL)",
    "CREATE TABLE IF NOT EXISTS noodl_records (class_name text NOT NULL, object_id text NOT NULL, "
    "created_at text NOT NULL, updated_at text NOT NULL, doc jsonb NOT NULL, rperm text[], wperm text[], "
    "secret text, CONSTRAINT noodl_records_pkey PRIMARY KEY (class_name, object_id))",
    "CREATE INDEX IF NOT EXISTS noodl_records_created ON noodl_records (class_name, created_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS noodl_unique_username ON noodl_records ((doc->>'username')) "
    "WHERE class_name = '_User'",
    "CREATE UNIQUE INDEX IF NOT EXISTS noodl_unique_email ON noodl_records ((doc->>'email')) "
    "WHERE class_name = '_User'",
    "CREATE UNIQUE INDEX IF NOT EXISTS noodl_unique_role_name ON noodl_records ((doc->>'name')) "
    "WHERE class_name = '_Role'",
    "CREATE UNIQUE INDEX IF NOT EXISTS noodl_unique_session_token ON noodl_records ((doc->>'sessionToken')) "
    "WHERE class_name = '_Session'",
    "CREATE TABLE IF NOT EXISTS noodl_relations (class_name text NOT NULL, field text NOT NULL, "
    "owning_id text NOT NULL, related_id text NOT NULL, "
    "PRIMARY KEY (class_name, field, owning_id, related_id))",
    "CREATE INDEX IF NOT EXISTS noodl_relations_related ON noodl_relations (class_name, field, related_id)",
    # Geo queries: the SQLite store's great-circle distance and even-odd point-in-polygon rule.
    "CREATE OR REPLACE FUNCTION noodl_great_circle(lat1 float8, lng1 float8, lat2 float8, lng2 float8) "
    "RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT 2 * asin(least(1.0, sqrt("
    "power(sin(radians(lat2 - lat1) / 2), 2) "
    "+ cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2)))) $$",
    "CREATE OR REPLACE FUNCTION noodl_point_in_ring(ring jsonb, lat float8, lng float8) RETURNS boolean "
    "LANGUAGE plpgsql IMMUTABLE AS $$ DECLARE inside boolean := false; n int := jsonb_array_length(ring); "
    "i int; alat float8; alng float8; blat float8; blng float8; BEGIN "
    "FOR i IN 0 .. n - 1 LOOP "
    "alat := (ring->i->>0)::float8; alng := (ring->i->>1)::float8; "
    "blat := (ring->((i + 1) % n)->>0)::float8; blng := (ring->((i + 1) % n)->>1)::float8; "
    "IF (alng > lng) <> (blng > lng) AND lat < (blat - alat) * (lng - alng) / (blng - alng) + alat THEN "
    "inside := NOT inside; END IF; END LOOP; RETURN inside; END $$",
)

UNIQUE_ERRORS = {
    "noodl_records_pkey": "objectId",
    "noodl_unique_username": "username",
    "noodl_unique_email": "email",
    "noodl_unique_role_name": "name",
    "noodl_unique_session_token": "sessionToken",
}
"""Which field a unique-violation's constraint guards."""
