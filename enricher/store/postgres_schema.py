"""The PostgreSQL store's schema as numbered migrations, and how they are applied.

The tables are the SQLite store's, written for PostgreSQL from the start: times are
``timestamptz`` (compared as instants, not as text), ids are identity columns, and the columns the
SQLite migrations 4 to 10 added later are there from migration 1. ``schema_version`` holds one row,
the number of migrations applied. Replicas starting together would race to migrate, so
``migrate`` runs under a transaction-level advisory lock: the second waits, then sees the new
version and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from enricher.errors import StoreError
from enricher.store.stat_sums import PG_STAT_TABLES, STAT_RESOLVED_INDEX

if TYPE_CHECKING:
    import psycopg

MIGRATIONS: tuple[str, ...] = (
    # 1: everything the SQLite store had at its migration 10 (the dashboard's sums excepted)
    """
    CREATE TABLE cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
    CREATE TABLE seen_runs (key TEXT PRIMARY KEY, status TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL);
    CREATE INDEX seen_runs_at ON seen_runs (seen_at);
    CREATE TABLE streaks (item_key TEXT PRIMARY KEY, count INTEGER NOT NULL);
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, code TEXT NOT NULL,
        severity TEXT NOT NULL, source TEXT NOT NULL, tenant TEXT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ,
        notified TEXT NOT NULL, last_notified_at TIMESTAMPTZ, flapping BOOLEAN NOT NULL,
        last_change TIMESTAMPTZ, parent TEXT, short TEXT NOT NULL, count INTEGER NOT NULL,
        body TEXT NOT NULL);
    CREATE INDEX incidents_fingerprint ON incidents (fingerprint);
    CREATE INDEX incidents_remind ON incidents (notified, flapping, state, last_notified_at);
    CREATE INDEX incidents_settle ON incidents (flapping, last_change);
    CREATE INDEX incidents_open_severity ON incidents (severity) WHERE state = 'open';
    CREATE INDEX incidents_list ON incidents (state, severity, last_seen, resolved_at, source, code, parent, id);
    CREATE TABLE incident_items (
        incident_id TEXT NOT NULL, position INTEGER NOT NULL, item_key TEXT NOT NULL,
        workspace TEXT NOT NULL, workspace_key TEXT NOT NULL, PRIMARY KEY (incident_id, position));
    CREATE INDEX incident_items_key ON incident_items (item_key);
    CREATE INDEX incident_items_workspace ON incident_items (workspace_key);
    CREATE TABLE incident_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, incident_id TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
    CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
    CREATE TABLE pending (
        fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, batch TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, seq BIGINT GENERATED ALWAYS AS IDENTITY);
    CREATE INDEX pending_batch ON pending (batch, created_at);
    CREATE INDEX pending_created ON pending (created_at);
    CREATE TABLE batches (batch TEXT PRIMARY KEY, last_flush TIMESTAMPTZ NOT NULL);
    CREATE TABLE silences (id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at TIMESTAMPTZ NOT NULL);
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, notification_id TEXT NOT NULL,
        sink TEXT NOT NULL, incident_id TEXT NOT NULL, body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL, next_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
        last_error TEXT NOT NULL DEFAULT '', sending_at TIMESTAMPTZ, UNIQUE (notification_id, sink));
    CREATE INDEX outbox_sink_pending ON outbox (sink, id) WHERE state = 'pending';
    CREATE INDEX outbox_pending_order ON outbox (sink, incident_id, id) WHERE state = 'pending';
    CREATE TABLE heartbeat (name TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, detail TEXT NOT NULL DEFAULT '');
    CREATE TABLE signin_lookups (
        incident_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,
        next_at TIMESTAMPTZ NOT NULL, body TEXT NOT NULL);
    CREATE INDEX signin_lookups_due ON signin_lookups (state, tenant, next_at);
    """,
    # 2: the replicas' leases (enricher.store.postgres_leases)
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, ttl_seconds DOUBLE PRECISION NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL, acquired_at TIMESTAMPTZ NOT NULL);
    CREATE INDEX leases_holder ON leases (holder);
    """,
    # 3: the dashboard's search text (queries.search_text; older rows get lower() until saved again)
    # and the indexes of its other list orders, as SQLite's migration 11
    """
    ALTER TABLE incidents ADD COLUMN search TEXT NOT NULL DEFAULT '';
    UPDATE incidents SET search = lower('aadsts' || code || ' ' || coalesce(body::jsonb #>> '{content,title}', '')
        || coalesce((SELECT ' ' || string_agg(coalesce(i->>'item_name', '') || ' ' || coalesce(i->>'item_type', '')
        || ' ' || coalesce(i->>'container_name', ''), ' ') FROM jsonb_array_elements(body::jsonb -> 'items') i), ''));
    CREATE INDEX incidents_first ON incidents (state, first_seen);
    CREATE INDEX incidents_code ON incidents (state, code, last_seen);
    """,
    # 4: the dashboard's sums, as SQLite's migration 9 (enricher.store.stat_sums), filled from the
    # incidents already stored
    PG_STAT_TABLES,
    # 5: an incident's page shows what each sink did with its notifications (SQLite's 13)
    """
    CREATE INDEX IF NOT EXISTS outbox_incident ON outbox (incident_id, id);
    """,
    # 6: the resolved-times index as SQLite's migration 14 (PostgreSQL chose well without it; the
    # two stores keep the same tables)
    STAT_RESOLVED_INDEX,
)
#: The migrations after which the store fills the dashboard's sums from the stored incidents.
REBUILD_SUMS_AFTER = frozenset({4})

#: Any constant both replicas agree on: the key of the migration lock.
_MIGRATION_LOCK = 0x4141_4453_5453


def migrate(conn: psycopg.Connection, where: str, rebuild_sums: Callable[[], None]) -> int:
    """Apply the migrations not yet applied (one transaction, a savepoint each); the schema version.
    ``rebuild_sums`` fills the dashboard's sums on ``conn`` after the migration that creates them."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (0)")
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise StoreError(
                f"state database {where} was written by a newer version (schema {version}); "
                "upgrade aadsts-enricher"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with conn.transaction():  # a savepoint per migration inside the locked transaction
                conn.execute(script)
                if number in REBUILD_SUMS_AFTER:
                    rebuild_sums()
                conn.execute("UPDATE schema_version SET version = %s", (number,))
        return len(MIGRATIONS)
