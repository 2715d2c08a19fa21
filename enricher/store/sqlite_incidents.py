"""The incident tables of the SQLite store: every question a poll or a flush asks is one indexed query.

``incidents`` keeps each incident's JSON ``body`` plus the columns the queries filter on;
``incident_items`` lists the items of each incident (item key, workspace), so "open incidents of
this item" is an index lookup; ``pending`` is one row per fingerprint, indexed by batch and age.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from enricher.core.incidents import Book, Incident, Pending, Scope
from enricher.store.codec import incident_from, incident_json, pending_from, pending_row
from enricher.store.queries import search_text

#: Migration 4: polls and flushes read incidents by index instead of loading the whole book.
INCIDENT_INDEXES = """
    ALTER TABLE incidents ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN notified TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE incidents ADD COLUMN last_notified_at TEXT;
    ALTER TABLE incidents ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN last_change TEXT;
    UPDATE incidents SET tenant = json_extract(body, '$.tenant'), notified = json_extract(body, '$.notified'),
        last_notified_at = json_extract(body, '$.last_notified_at'),
        flapping = coalesce(json_extract(body, '$.flapping'), 0),
        last_change = json_extract(body, '$.changes[#-1]');
    CREATE INDEX incidents_remind ON incidents(notified, flapping, state, last_notified_at);
    CREATE INDEX incidents_settle ON incidents(flapping, last_change);
    CREATE INDEX incidents_open_severity ON incidents(severity) WHERE state = 'open';
    CREATE TABLE incident_items (incident_id TEXT NOT NULL, item_key TEXT NOT NULL, workspace TEXT NOT NULL);
    INSERT INTO incident_items SELECT i.id, k.value, coalesce(json_extract(i.body, '$.items[' || k.key || '].container_name'), '')
        FROM incidents i, json_each(i.body, '$.item_keys') k;
    CREATE INDEX incident_items_key ON incident_items(item_key);
    CREATE INDEX incident_items_incident ON incident_items(incident_id);
    CREATE INDEX pending_batch ON pending(batch, created_at);
    CREATE INDEX pending_created ON pending(created_at);
    """
#: Bound parameters per ``IN (...)`` query.
_CHUNK = 500


class IncidentTables:
    """Mixed into ``SQLiteStore``, which provides the connection, ``_run`` and ``transaction``."""

    _db: sqlite3.Connection
    #: ``StatTables``: keeps the dashboard's sums in step with each saved incident.
    _stat_refresh: Callable[[Incident], None]
    _stat_refresh_many: Callable[[Sequence[Incident]], None]

    def _run(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _bodies(self, sql: str, keys: Collection[str], *args: object) -> list[Incident]:
        """``sql`` (with ``{marks}`` for the keys) run over ``keys`` in chunks; oldest first."""
        found: dict[str, Incident] = {}
        for chunk in chunks(keys):
            query = sql.format(marks=", ".join("?" * len(chunk)))
            for (body,) in self._run(query, (*chunk, *args)).fetchall():
                inc = incident_from(body)
                found[inc.id] = inc
        return sorted(found.values(), key=lambda i: (i.first_seen, i.id))

    def current_incidents(self, fingerprints: Collection[str], since: datetime) -> list[Incident]:
        return self._bodies(
            "SELECT body FROM incidents WHERE fingerprint IN ({marks}) AND (state = 'open' OR resolved_at >= ?)",
            fingerprints,
            since.isoformat(),
        )

    def open_incidents_of(self, item_keys: Collection[str]) -> list[Incident]:
        return self._bodies(
            "SELECT i.body FROM incident_items x JOIN incidents i ON i.id = x.incident_id "
            "WHERE x.item_key IN ({marks}) AND i.state = 'open'",
            item_keys,
        )

    def due_incidents(
        self, remind_before: datetime, settle_before: datetime, scope: Scope | None = None
    ) -> list[Incident]:
        """One daemon owns a SQLite store and passes no scope; one given is applied to the rows."""
        rows = self._run(
            "SELECT body FROM incidents WHERE state = 'open' AND notified = 'firing' AND flapping = 0 "
            "AND last_notified_at <= ? UNION ALL SELECT body FROM incidents WHERE flapping = 1 "
            "AND (last_change IS NULL OR last_change <= ?)",
            (remind_before.isoformat(), settle_before.isoformat()),
        ).fetchall()
        due = (incident_from(b) for (b,) in rows)
        kept = due if scope is None else (i for i in due if scope.covers(i.tenant))
        return sorted(kept, key=lambda i: (i.first_seen, i.id))

    def pending_for(self, fingerprints: Collection[str]) -> list[Pending]:
        found: list[tuple[str, str, str, str]] = []
        for chunk in chunks(fingerprints):
            found += self._run(
                f"SELECT * FROM pending WHERE fingerprint IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
        return sorted(map(pending_from, found), key=lambda p: p.created_at)

    def ready_batches(self, created_before: datetime) -> list[str]:
        rows = self._run(
            "SELECT DISTINCT batch FROM pending WHERE created_at <= ?", (created_before.isoformat(),)
        ).fetchall()
        return [b for (b,) in rows]

    def pending_in(self, batches: Collection[str]) -> list[Pending]:
        rows = []
        for batch in batches:
            rows += self._run(
                "SELECT * FROM pending WHERE batch = ? ORDER BY created_at, rowid", (batch,)
            ).fetchall()
        return sorted(map(pending_from, rows), key=lambda p: p.created_at)

    def last_flushes(self, batches: Collection[str]) -> dict[str, datetime]:
        found = {}
        for batch in batches:
            row = self._run("SELECT last_flush FROM batches WHERE batch = ?", (batch,)).fetchone()
            if row:
                found[batch] = datetime.fromisoformat(row[0])
        return found

    def save_book(self, book: Book, now: datetime) -> None:
        with self.transaction():
            self._save_incidents([book.incidents[fp] for fp in sorted(book.touched)])
            self._db.executemany(
                "DELETE FROM pending WHERE fingerprint = ?", [(fp,) for fp in sorted(book.requeued)]
            )
            self._db.executemany(
                "INSERT INTO pending VALUES (?, ?, ?, ?)",
                [pending_row(p) for fp, p in book.pending.items() if fp in book.requeued],
            )
            for batch, at in book.last_flush.items():
                self._run("INSERT OR REPLACE INTO batches VALUES (?, ?)", (batch, at.isoformat()))
        book.touched.clear()
        book.requeued.clear()

    def _save_incident(self, inc: Incident) -> None:
        self._save_incidents([inc])

    def _save_incidents(self, incs: Sequence[Incident]) -> None:
        """Each statement once for all of them (a first poll of 10,000 failures saves 10,000)."""
        if not incs:
            return
        self._db.executemany(
            "INSERT OR REPLACE INTO incidents (id, fingerprint, state, code, severity, source, first_seen, "
            "last_seen, resolved_at, body, tenant, notified, last_notified_at, flapping, last_change, parent, "
            "search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    inc.id,
                    inc.fingerprint,
                    inc.state,
                    inc.code,
                    inc.severity,
                    inc.source,
                    inc.first_seen.isoformat(),
                    inc.last_seen.isoformat(),
                    _iso(inc.resolved_at),
                    incident_json(inc),
                    inc.tenant,
                    inc.notified,
                    _iso(inc.last_notified_at),
                    int(inc.flapping),
                    _iso(inc.changes[-1] if inc.changes else None),
                    inc.parent,
                    search_text(inc),
                )
                for inc in incs
            ],
        )
        for chunk in chunks([inc.id for inc in incs]):
            marks = ", ".join("?" * len(chunk))
            self._run(f"DELETE FROM incident_items WHERE incident_id IN ({marks})", chunk)
        self._db.executemany(
            "INSERT INTO incident_items (incident_id, item_key, workspace, workspace_key) VALUES (?, ?, ?, ?)",
            [
                (inc.id, key, item.container_name, item.container_name.casefold())
                for inc in incs
                for key, item in zip(inc.item_keys, inc.items, strict=False)
            ],
        )
        self._stat_refresh_many(incs)

    def open_counts(self) -> dict[str, int]:
        rows = self._run("SELECT severity, COUNT(*) FROM incidents WHERE state = 'open' GROUP BY severity")
        return {severity: int(n) for severity, n in rows.fetchall()}


def chunks(keys: Collection[str]) -> Iterator[list[str]]:
    ordered = list(keys)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
