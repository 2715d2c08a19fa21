"""The shared store for several replicas: PostgreSQL through psycopg 3 and a connection pool.

Chosen with ``state: {url: postgresql://...}``; SQLite stays the default. The contract is the
SQLite store's (the same contract tests run on memory, SQLite and PostgreSQL). What differs:

- Threads share a pool, not one connection behind a lock: a daemon cycle's ``transaction()``
  holds one connection for its thread (calls inside it use that one), while the sink workers'
  single statements each borrow a connection and commit at once.
- A connection is checked when it leaves the pool, so after a database restart or failover the
  next call reconnects; a call that fails meanwhile raises ``StoreError`` and its cycle is redone.
- Every ``transaction()`` takes one advisory lock first, so cycles write one at a time across
  all replicas (as SQLite's ``BEGIN IMMEDIATE`` does within one process).
- psycopg's errors are translated here, at the seam, into ``StoreError`` with one line that
  names the server but never the URL's credentials.

The schema and its migrations are in ``postgres_schema``; incidents and the dashboard's reads in
``postgres_incidents``; the outbox and sign-in look-ups in ``postgres_outbox``; the replicas'
leases in ``postgres_leases``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql as sql_
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from connectors.records import RunRecord
from enricher.core.incidents import Incident
from enricher.core.routing import Silence
from enricher.errors import StoreError
from enricher.store.base import Event, run_key, worth_processing
from enricher.store.codec import incident_from, silence_from, silence_json
from enricher.store.postgres_incidents import PgIncidents
from enricher.store.postgres_leases import PgLeases
from enricher.store.postgres_outbox import PgOutbox
from enricher.store.postgres_schema import migrate
from enricher.store.stat_sums import StatTables

#: ``INSERT INTO table [(columns)] VALUES (%s, ...)``: what ``_many`` may send as COPY.
_PLAIN_INSERT = re.compile(r"INSERT INTO (?P<table>\w+)(?: \((?P<columns>[\w, ]+)\))? VALUES \((?:%s, )*%s\)")
#: From how many rows a plain INSERT goes as COPY (below it, the pipeline costs less to start).
_COPY_FROM = 50
#: The key of the transaction-level advisory lock every ``transaction()`` takes.
_WRITER_LOCK = 0x4141_4453_5457


class Rows(list[tuple[Any, ...]]):
    """A statement's rows, fetched before its connection went back to the pool, and its rowcount."""

    rowcount: int = 0

    def fetchone(self) -> tuple[Any, ...] | None:
        return self[0] if self else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self)


def describe(url: str) -> str:
    """``host:port/database`` of a URL: what messages may show (never the user or password)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable URL)"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def probe(url: str, timeout: float = 10.0) -> str | None:
    """Connect once; None when the server answered, else why not (one line, no credentials)."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return one_line(exc)
    return None


def _utc(conn: psycopg.Connection) -> None:
    """Every connection reads times in UTC, as the rest of the daemon writes them."""
    conn.execute("SET TIME ZONE 'UTC'")


class PostgresStore(PgIncidents, PgOutbox, PgLeases, StatTables):
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 10,
        timeout: float = 30.0,
        claim_for: timedelta = timedelta(minutes=2),
    ) -> None:
        self.where = describe(url)
        #: how long an outbox row claimed for a send stays another replica's (see postgres_outbox)
        self.claim_for = claim_for
        self._timeout = timeout
        self._local = threading.local()
        #: incidents given a failure event in the open transaction whose stat rows wait for its
        #: commit; one set serves every thread, as only the holder of the writer lock is inside a
        #: transaction (``_stat_flush``, ``StatTables``)
        self._stale: set[str] = set()
        reason = probe(url, min(timeout, 10.0))
        if reason is not None:
            raise StoreError(f"cannot connect to state database {self.where}: {reason}")
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            name="enricher-state",
            check=ConnectionPool.check_connection,
            configure=_utc,
            kwargs={"autocommit": True, "connect_timeout": 10},
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
            with self._pool.connection(timeout=timeout) as conn:
                self._local.conn = conn  # the stat rebuild a migration asks for runs on it
                try:
                    self.schema_version = migrate(conn, self.where, self._stat_rebuild)
                finally:
                    self._local.conn = None
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(f"state database {self.where}: {one_line(exc)}") from None
        except BaseException:  # e.g. a newer schema: no pool threads left behind
            self._pool.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield  # nested: part of the outer transaction
            return
        try:
            with self._pool.connection(timeout=self._timeout) as conn, conn.transaction():
                # one writer at a time, as with SQLite's BEGIN IMMEDIATE: a poll and a flush both
                # read incidents and write them back, and under READ COMMITTED two such cycles
                # (threads of one replica, or two replicas) would overwrite each other's changes.
                # The network part of a poll happens before its transaction, so this stays short.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITER_LOCK,))
                self._local.conn = conn
                try:
                    yield
                    self._stat_flush()  # the dashboard's sums move in the same transaction
                finally:
                    self._local.conn = None
                    self._stale.clear()
        except psycopg.Error as exc:
            raise StoreError(f"state database {self.where}: {one_line(exc)}") from None

    def _run(self, sql: str, args: Sequence[object] | None = None) -> Rows:
        """One statement, in the thread's transaction if there is one, else committed on its own."""
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is not None:
                return _rows(conn.execute(sql, args))
            with self._pool.connection(timeout=self._timeout) as own:
                return _rows(own.execute(sql, args))
        except psycopg.Error as exc:
            raise StoreError(f"state database {self.where}: {one_line(exc)}") from None

    def _stat_run(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql.replace("?", "%s"), args).fetchall()

    def _stat_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._many(sql.replace("?", "%s"), rows)

    def _many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """``sql`` for each row: as a pipeline (``executemany``), or, for a plain INSERT of many
        rows (a first poll's events, items and stat rows), as one COPY, several times faster."""
        batch = list(rows)
        if not batch:
            return
        plain = _PLAIN_INSERT.fullmatch(sql) if len(batch) >= _COPY_FROM else None
        with self.transaction():
            conn: psycopg.Connection = self._local.conn
            try:
                if plain is None:
                    conn.cursor().executemany(sql, batch)
                    return
                table, columns = plain["table"], plain["columns"]
                target = (
                    sql_.SQL("{} ({})").format(sql_.Identifier(table), sql_.SQL(columns))
                    if columns
                    else sql_.Identifier(table)
                )
                with conn.cursor().copy(sql_.SQL("COPY {} FROM STDIN").format(target)) as copy:
                    for row in batch:
                        copy.write_row(row)
            except psycopg.Error as exc:
                raise StoreError(f"state database {self.where}: {one_line(exc)}") from None

    def close(self) -> None:
        self._pool.close()

    # -- cursors and seen runs -----------------------------------------------------------------

    def get_cursor(self, source: str) -> dict[str, str]:
        row = self._run("SELECT cursor FROM cursors WHERE source = %s", (source,)).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_cursor(self, source: str, cursor: Mapping[str, str], now: datetime) -> None:
        self._run(
            "INSERT INTO cursors VALUES (%s, %s, %s) ON CONFLICT (source) DO UPDATE "
            "SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            (source, json.dumps(dict(cursor)), now),
        )

    def take_unseen(self, records: Sequence[RunRecord], now: datetime) -> list[RunRecord]:
        fresh = {run_key(r): r for r in records if worth_processing(r)}
        with self.transaction():
            known = dict(
                self._run("SELECT key, status FROM seen_runs WHERE key = ANY(%s)", (list(fresh),)).fetchall()
            )
            out = [r for key, r in fresh.items() if known.get(key) != r.status.value]
            self._many(
                "INSERT INTO seen_runs VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
                "SET status = excluded.status, seen_at = excluded.seen_at",
                [(run_key(r), r.status.value, now) for r in out],
            )
        return out

    def prune_seen(self, before: datetime) -> int:
        return self._run("DELETE FROM seen_runs WHERE seen_at < %s", (before,)).rowcount

    def get_streak(self, item_key: str) -> int:
        row = self._run("SELECT count FROM streaks WHERE item_key = %s", (item_key,)).fetchone()
        return int(row[0]) if row else 0

    def set_streak(self, item_key: str, count: int) -> None:
        self._run(
            "INSERT INTO streaks VALUES (%s, %s) ON CONFLICT (item_key) DO UPDATE SET count = excluded.count",
            (item_key, count),
        )

    # -- incidents -------------------------------------------------------------------------------

    def incidents(
        self, *, state: str | None = None, since: datetime | None = None, limit: int = 500
    ) -> list[Incident]:
        sql, args = "SELECT body FROM incidents WHERE TRUE", list[object]()
        if state:
            sql += " AND state = %s"
            args.append(state)
        if since:
            sql += " AND last_seen >= %s"
            args.append(since)
        sql += " ORDER BY last_seen DESC LIMIT %s"
        args.append(limit)
        return [incident_from(body) for (body,) in self._run(sql, args)]

    def events(self, incident_id: str) -> list[Event]:
        rows = self._run(
            "SELECT incident_id, at, kind, detail FROM incident_events WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        )
        return [Event(*row) for row in rows]

    def add_event(self, incident_id: str, at: datetime, kind: str, detail: str = "") -> None:
        self.add_events([Event(incident_id, at, kind, detail)])

    def add_events(self, events: Sequence[Event]) -> None:
        with self.transaction():
            self._many(
                "INSERT INTO incident_events (incident_id, at, kind, detail) VALUES (%s, %s, %s, %s)",
                [(e.incident_id, e.at, e.kind, e.detail) for e in events],
            )
            self._stale.update(e.incident_id for e in events if e.kind == "failure")  # their days moved

    # -- silences --------------------------------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        self._run(
            "INSERT INTO silences VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
            "SET body = excluded.body, ends_at = excluded.ends_at",
            (silence.id, silence_json(silence), silence.ends_at),
        )

    def silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        found = [silence_from(body) for (body,) in self._run("SELECT body FROM silences ORDER BY ends_at")]
        return found if include_expired else [s for s in found if s.active(now)]

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        with self.transaction():
            row = self._run("SELECT body FROM silences WHERE id = %s FOR UPDATE", (silence_id,)).fetchone()
            if not row:
                return False
            s = silence_from(row[0])
            self.add_silence(Silence(s.id, s.match, min(s.ends_at, now), s.comment, s.created_by))
        return True

    # -- heartbeat -------------------------------------------------------------------------------

    def beat(self, name: str, now: datetime, detail: str = "") -> None:
        self._run(
            "INSERT INTO heartbeat VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
            "SET at = excluded.at, detail = excluded.detail",
            (name, now, detail),
        )

    def last_beat(self, name: str) -> tuple[datetime, str] | None:
        row = self._run("SELECT at, detail FROM heartbeat WHERE name = %s", (name,)).fetchone()
        return (row[0], row[1]) if row else None


def _rows(cur: psycopg.Cursor[Any]) -> Rows:
    found = Rows(cur.fetchall() if cur.description else ())
    found.rowcount = cur.rowcount
    return found
