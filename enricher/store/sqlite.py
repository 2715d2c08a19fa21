"""The embedded default store: SQLite in WAL mode, one connection behind a lock.

Boring on purpose. Schema changes are numbered migrations applied at open; timestamps are ISO-8601
UTC strings (they sort as text). ``transaction()`` wraps a whole daemon cycle in ``BEGIN
IMMEDIATE ... COMMIT``; calls outside a transaction commit one by one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.records import RunRecord
from enricher.core.incidents import Incident
from enricher.core.routing import Silence
from enricher.errors import StoreError
from enricher.store.base import (
    Event,
    run_key,
    worth_processing,
)
from enricher.store.codec import incident_from, silence_from, silence_json
from enricher.store.sqlite_dashboard import (
    LIST_COVERS,
    LIST_INDEX,
    PARENTS,
    SEARCH,
    WORKSPACE_KEYS,
    DashboardQueries,
)
from enricher.store.sqlite_incidents import INCIDENT_INDEXES, IncidentTables, chunks
from enricher.store.sqlite_outbox import OutboxTable
from enricher.store.sqlite_signins import SIGNIN_LOOKUPS, SigninTable
from enricher.store.stat_sums import STAT_BY_STORE, STAT_RESOLVED_INDEX, STAT_TABLES, StatTables

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE seen_runs (key TEXT PRIMARY KEY, status TEXT NOT NULL, seen_at TEXT NOT NULL);
    CREATE INDEX seen_runs_at ON seen_runs(seen_at);
    CREATE TABLE streaks (item_key TEXT PRIMARY KEY, count INTEGER NOT NULL);
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, code TEXT NOT NULL,
        severity TEXT NOT NULL, source TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
        resolved_at TEXT, body TEXT NOT NULL);
    CREATE INDEX incidents_fingerprint ON incidents(fingerprint, first_seen);
    CREATE INDEX incidents_state ON incidents(state, last_seen);
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL, at TEXT NOT NULL,
        kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
    CREATE INDEX incident_events_incident ON incident_events(incident_id, id);
    CREATE TABLE pending (fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, batch TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE batches (batch TEXT PRIMARY KEY, last_flush TEXT NOT NULL);
    CREATE TABLE silences (id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at TEXT NOT NULL);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL, sink TEXT NOT NULL,
        incident_id TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, next_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '', UNIQUE (notification_id, sink));
    CREATE INDEX outbox_due ON outbox(state, next_at);
    CREATE TABLE heartbeat (name TEXT PRIMARY KEY, at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
    """,
    # 2: the "oldest pending row of its incident" check of due() was a scan per row
    """
    CREATE INDEX outbox_pending_order ON outbox(sink, incident_id, id) WHERE state = 'pending';
    """,
    # 3: the in-flight mark (an attempt started, its outcome not yet recorded)
    """
    ALTER TABLE outbox ADD COLUMN sending_at TEXT;
    """,
    # 4: polls and flushes read incidents by index instead of loading the whole book
    INCIDENT_INDEXES,
    # 5: the dashboard's workspace filter, case-insensitive
    WORKSPACE_KEYS,
    # 6: the dashboard's lists sorted in an index
    LIST_INDEX,
    # 7: each sink's worker reads only its own pending rows, in order
    """
    CREATE INDEX outbox_sink_pending ON outbox(sink, id) WHERE state = 'pending';
    """,
    # 8: the sign-in look-up queue
    SIGNIN_LOOKUPS,
    # 9: the dashboard's numbers kept summed (filled from the existing incidents when applied)
    STAT_TABLES,
    # 10: the parent of a child incident (the dashboard's top level)
    PARENTS,
    # 11: the dashboard's search text and the indexes of its other list orders
    SEARCH,
    # 12: the dashboard's sums kept by the store instead of a trigger per row
    STAT_BY_STORE,
    # 13: an incident's page shows what each sink did with its notifications
    """
    CREATE INDEX IF NOT EXISTS outbox_incident ON outbox(incident_id, id);
    """,
    # 14: the dashboard's resolved times read in an index SQLite's planner does not pass over
    STAT_RESOLVED_INDEX,
    # 15: the dashboard's header counts and searches read the list index alone
    LIST_COVERS,
)


class SQLiteStore(OutboxTable, IncidentTables, DashboardQueries, SigninTable, StatTables):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open state database {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0
        #: incidents given a failure event in this transaction whose stat rows still need it
        #: (``_stat_flush`` at commit; an incident saved after its event needs nothing more)
        self._stale: set[str] = set()
        self._migrate()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer version (schema {version}); upgrade aadsts-enricher"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in _statements(script):
                    self._db.execute(statement)
                if script is STAT_TABLES:
                    self._stat_rebuild()
                self._db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
                if outer:
                    self._stat_flush()
            except BaseException:
                self._depth -= 1
                if outer:
                    self._stale.clear()
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def _run(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StoreError(f"state database error: {exc}") from exc

    def _stat_run(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, args).fetchall()

    def _stat_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._many(sql, rows)

    def _many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """``sql`` once per row in one statement (``executemany``)."""
        if not rows:
            return
        with self._lock:
            try:
                self._db.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise StoreError(f"state database error: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- cursors and seen runs -----------------------------------------------------------------

    def get_cursor(self, source: str) -> dict[str, str]:
        row = self._run("SELECT cursor FROM cursors WHERE source = ?", (source,)).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_cursor(self, source: str, cursor: Mapping[str, str], now: datetime) -> None:
        self._run(
            "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, "
            "updated_at = excluded.updated_at",
            (source, json.dumps(dict(cursor)), now.isoformat()),
        )

    def take_unseen(self, records: Sequence[RunRecord], now: datetime) -> list[RunRecord]:
        fresh: dict[str, RunRecord] = {}
        for r in records:
            if worth_processing(r):
                fresh[run_key(r)] = r
        with self.transaction():
            seen: dict[str, str] = {}
            for chunk in chunks(fresh):
                marks = ", ".join("?" * len(chunk))
                seen.update(self._run(f"SELECT key, status FROM seen_runs WHERE key IN ({marks})", chunk))
            out = {k: r for k, r in fresh.items() if seen.get(k) != r.status.value}
            at = now.isoformat()
            self._many(
                "INSERT OR REPLACE INTO seen_runs VALUES (?, ?, ?)",
                [(key, record.status.value, at) for key, record in out.items()],
            )
        return list(out.values())

    def prune_seen(self, before: datetime) -> int:
        return self._run("DELETE FROM seen_runs WHERE seen_at < ?", (before.isoformat(),)).rowcount

    def get_streak(self, item_key: str) -> int:
        row = self._run("SELECT count FROM streaks WHERE item_key = ?", (item_key,)).fetchone()
        return int(row[0]) if row else 0

    def set_streak(self, item_key: str, count: int) -> None:
        self._run("INSERT OR REPLACE INTO streaks VALUES (?, ?)", (item_key, count))

    # -- incidents -------------------------------------------------------------------------------

    def incidents(
        self, *, state: str | None = None, since: datetime | None = None, limit: int = 500
    ) -> list[Incident]:
        sql, args = "SELECT body FROM incidents WHERE 1 = 1", []
        if state:
            sql += " AND state = ?"
            args.append(state)
        if since:
            sql += " AND last_seen >= ?"
            args.append(since.isoformat())
        sql += " ORDER BY last_seen DESC LIMIT ?"
        args.append(str(limit))
        return [incident_from(body) for (body,) in self._run(sql, args).fetchall()]

    def events(self, incident_id: str) -> list[Event]:
        rows = self._run(
            "SELECT incident_id, at, kind, detail FROM incident_events WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        )
        return [Event(i, datetime.fromisoformat(at), k, d) for i, at, k, d in rows.fetchall()]

    def add_event(self, incident_id: str, at: datetime, kind: str, detail: str = "") -> None:
        with self.transaction():
            self._run(
                "INSERT INTO incident_events (incident_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                (incident_id, at.isoformat(), kind, detail),
            )
            if kind == "failure":  # a failure moves the incident's days: its stat rows, at commit
                self._stale.add(incident_id)

    def add_events(self, events: Sequence[Event]) -> None:
        with self.transaction():
            self._many(
                "INSERT INTO incident_events (incident_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                [(e.incident_id, e.at.isoformat(), e.kind, e.detail) for e in events],
            )
            self._stale.update(e.incident_id for e in events if e.kind == "failure")

    # -- silences --------------------------------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        self._run(
            "INSERT OR REPLACE INTO silences VALUES (?, ?, ?)",
            (silence.id, silence_json(silence), silence.ends_at.isoformat()),
        )

    def silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        rows = self._run("SELECT body FROM silences ORDER BY ends_at").fetchall()
        found = [silence_from(body) for (body,) in rows]
        return found if include_expired else [s for s in found if s.active(now)]

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        row = self._run("SELECT body FROM silences WHERE id = ?", (silence_id,)).fetchone()
        if not row:
            return False
        s = silence_from(row[0])
        self.add_silence(Silence(s.id, s.match, min(s.ends_at, now), s.comment, s.created_by))
        return True

    # -- heartbeat -------------------------------------------------------------------------------

    def beat(self, name: str, now: datetime, detail: str = "") -> None:
        self._run("INSERT OR REPLACE INTO heartbeat VALUES (?, ?, ?)", (name, now.isoformat(), detail))

    def last_beat(self, name: str) -> tuple[datetime, str] | None:
        row = self._run("SELECT at, detail FROM heartbeat WHERE name = ?", (name,)).fetchone()
        return (datetime.fromisoformat(row[0]), row[1]) if row else None


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration (a trigger's body holds semicolons of its own)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
