"""Incidents in PostgreSQL: what polls and flushes load, what they save, what the dashboard asks.

The questions are the SQLite store's (``sqlite_incidents``, ``sqlite_dashboard``), each one
indexed query; a list of keys travels as one array (``= ANY(%s)``) instead of chunks of marks.
The dashboard's sums are kept as SQLite keeps them (``stat_sums``, the same statements), so
``/api/stats`` costs the same at any size. One choice differs on purpose: sorting by ``id`` uses
the ``C`` collation, so lists come out in Python's order whatever locale the cluster was created
with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from enricher.core.incidents import Book, Incident, Pending, Scope
from enricher.store.codec import incident_from, incident_json
from enricher.store.queries import RANK, IncidentFilter, IncidentRow, Summary, search_text

_RANK_SQL = (
    "CASE severity " + " ".join(f"WHEN '{s}' THEN {r}" for s, r in RANK.items()) + f" ELSE {RANK['info']} END"
)
_ORDER = (
    f" ORDER BY state <> 'open', CASE WHEN state = 'open' THEN {_RANK_SQL} ELSE 0 END,"
    " CASE WHEN state = 'open' THEN last_seen END DESC NULLS LAST, coalesce(resolved_at, last_seen) DESC,"
    ' id COLLATE "C"'
)
#: ``queries.sort_key`` in SQL, per sort (ids and codes compared as bytes, like Python).
_ORDERS = {
    "severity": _ORDER,
    "last": " ORDER BY state <> 'open', last_seen DESC, id COLLATE \"C\"",
    "first": " ORDER BY state <> 'open', first_seen DESC, id COLLATE \"C\"",
    "code": ' ORDER BY state <> \'open\', code COLLATE "C", last_seen DESC, id COLLATE "C"',
}
#: Incidents due for a reminder or done flapping (both halves use an index: incidents_remind,
#: incidents_settle).
_DUE = (
    "SELECT body, tenant FROM incidents WHERE state = 'open' AND notified = 'firing' AND NOT flapping "
    "AND last_notified_at <= %s UNION ALL SELECT body, tenant FROM incidents WHERE flapping "
    "AND (last_change IS NULL OR last_change <= %s)"
)
_SEVERITY = f"CASE WHEN severity IN ({', '.join(repr(s) for s in RANK)}) THEN severity ELSE 'info' END"


class PgIncidents:
    """Mixed into ``PostgresStore``, which provides ``_run``, ``_many`` and ``transaction``."""

    #: ``StatTables``: keeps the dashboard's sums in step with each saved incident.
    _stat_refresh_many: Callable[[Sequence[Incident]], None]

    def _run(self, sql: str, args: Sequence[object] | None = None) -> Any:
        raise NotImplementedError

    def _many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _bodies(self, sql: str, *args: object) -> list[Incident]:
        found = {inc.id: inc for inc in (incident_from(body) for (body,) in self._run(sql, args))}
        return sorted(found.values(), key=lambda i: (i.first_seen, i.id))

    def current_incidents(self, fingerprints: Collection[str], since: datetime) -> list[Incident]:
        return self._bodies(
            "SELECT body FROM incidents WHERE fingerprint = ANY(%s) AND (state = 'open' OR resolved_at >= %s)",
            list(fingerprints),
            since,
        )

    def open_incidents_of(self, item_keys: Collection[str]) -> list[Incident]:
        return self._bodies(
            "SELECT i.body FROM incidents i WHERE i.state = 'open' AND i.id IN "
            "(SELECT incident_id FROM incident_items WHERE item_key = ANY(%s))",
            list(item_keys),
        )

    def due_incidents(
        self, remind_before: datetime, settle_before: datetime, scope: Scope | None = None
    ) -> list[Incident]:
        if scope is None:
            return self._bodies(f"SELECT body FROM ({_DUE}) due", remind_before, settle_before)
        return self._bodies(
            f"SELECT body FROM ({_DUE}) due WHERE tenant = ANY(%s) OR (%s AND tenant <> ALL(%s))",
            remind_before,
            settle_before,
            sorted(scope.tenants),
            scope.strays,
            sorted(scope.known),
        )

    def pending_for(self, fingerprints: Collection[str]) -> list[Pending]:
        return self._pending("WHERE fingerprint = ANY(%s)", list(fingerprints))

    def ready_batches(self, created_before: datetime) -> list[str]:
        rows = self._run("SELECT DISTINCT batch FROM pending WHERE created_at <= %s", (created_before,))
        return [b for (b,) in rows]

    def pending_in(self, batches: Collection[str]) -> list[Pending]:
        return self._pending("WHERE batch = ANY(%s)", list(batches))

    def _pending(self, where: str, *args: object) -> list[Pending]:
        rows = self._run(
            f"SELECT fingerprint, kind, batch, created_at FROM pending {where} ORDER BY seq", args
        )
        return sorted((Pending(*row) for row in rows), key=lambda p: p.created_at)

    def last_flushes(self, batches: Collection[str]) -> dict[str, datetime]:
        rows = self._run("SELECT batch, last_flush FROM batches WHERE batch = ANY(%s)", (list(batches),))
        return dict(rows)

    def save_book(self, book: Book, now: datetime) -> None:
        """The touched incidents in one statement per table (psycopg sends an ``executemany`` as a
        pipeline: no round trip per row), then the requeued pending entries and batch times."""
        with self.transaction():
            touched = [book.incidents[fp] for fp in sorted(book.touched)]
            self._many(_UPSERT, [_incident_row(inc) for inc in touched])
            self._stat_refresh_many(touched)
            if touched:
                self._run(
                    "DELETE FROM incident_items WHERE incident_id = ANY(%s)", ([i.id for i in touched],)
                )
            self._many(
                "INSERT INTO incident_items VALUES (%s, %s, %s, %s, %s)",
                [
                    (inc.id, n, key, item.container_name, item.container_name.casefold())
                    for inc in touched
                    for n, (key, item) in enumerate(zip(inc.item_keys, inc.items, strict=False))
                ],
            )
            if book.requeued:
                self._run("DELETE FROM pending WHERE fingerprint = ANY(%s)", (sorted(book.requeued),))
            self._many(
                "INSERT INTO pending (fingerprint, kind, batch, created_at) VALUES (%s, %s, %s, %s)",
                [
                    (p.fingerprint, p.kind, p.batch, p.created_at)
                    for fp, p in book.pending.items()
                    if fp in book.requeued
                ],
            )
            self._many(
                "INSERT INTO batches VALUES (%s, %s) ON CONFLICT (batch) DO UPDATE SET last_flush = excluded.last_flush",
                list(book.last_flush.items()),
            )
        book.touched.clear()
        book.requeued.clear()

    def open_counts(self) -> dict[str, int]:
        rows = self._run("SELECT severity, COUNT(*) FROM incidents WHERE state = 'open' GROUP BY severity")
        return {severity: int(n) for severity, n in rows}

    # -- the dashboard ---------------------------------------------------------------------------

    def count_incidents(self, f: IncidentFilter) -> dict[str, int]:
        where, args = _where(f)
        rows = self._run(f"SELECT state, COUNT(*) FROM incidents WHERE {where} GROUP BY state", args)
        return {state: int(n) for state, n in rows}

    def list_incidents(
        self,
        f: IncidentFilter,
        *,
        state: str | None = None,
        limit: int = 200,
        offset: int = 0,
        sort: str = "severity",
    ) -> list[Incident]:
        where, args = _where(f)
        if state:
            where, args = f"{where} AND state = %s", [*args, state]
        order = _ORDERS.get(sort, _ORDER)
        rows = self._run(
            f"SELECT body FROM incidents WHERE {where}{order} LIMIT %s OFFSET %s", [*args, limit, offset]
        )
        return [incident_from(body) for (body,) in rows]

    def summary(self, f: IncidentFilter, since: datetime) -> Summary:
        where, args = _where(f)
        rows = self._run(
            f"SELECT {_SEVERITY}, COUNT(*) FROM incidents WHERE {where} AND state = 'open' GROUP BY 1", args
        )
        by_severity = {s: int(n) for s, n in rows}
        counted = self._run(
            "SELECT COUNT(*) FILTER (WHERE first_seen >= %s), COUNT(*) FILTER (WHERE resolved_at >= %s) "
            f"FROM incidents WHERE {where} AND (first_seen >= %s OR resolved_at >= %s)",
            [since, since, *args, since, since],
        )
        new, resolved = next(iter(counted))
        return Summary(by_severity, int(new), int(resolved))

    def incident_rows(self, f: IncidentFilter) -> list[IncidentRow]:
        where, args = _where(f)
        spaces: dict[str, list[str]] = {}
        for iid, name in self._run(
            "SELECT incident_id, workspace FROM incident_items WHERE workspace <> '' AND incident_id IN "
            f"(SELECT id FROM incidents WHERE {where}) ORDER BY incident_id, position",
            args,
        ):
            spaces.setdefault(iid, []).append(name)
        rows = self._run(
            f"SELECT id, state, {_SEVERITY}, code, short, source, first_seen, last_seen, resolved_at, count "
            f"FROM incidents WHERE {where}",
            args,
        )
        return [
            IncidentRow(
                iid,
                state,
                sev,
                code,
                short,
                source,
                first,
                last,
                resolved,
                int(n),
                tuple(dict.fromkeys(spaces.get(iid, ()))),
            )
            for iid, state, sev, code, short, source, first, last, resolved, n in rows
        ]

    def failure_events(self, f: IncidentFilter) -> dict[str, list[datetime]]:
        where, args = _where(f)
        found: dict[str, list[datetime]] = {}
        for iid, at in self._run(
            "SELECT incident_id, at FROM incident_events WHERE kind = 'failure' AND incident_id IN "
            f"(SELECT id FROM incidents WHERE {where}) ORDER BY id",
            args,
        ):
            found.setdefault(iid, []).append(at)
        return found


_COLUMNS = (
    "id, fingerprint, state, code, severity, source, tenant, first_seen, last_seen, resolved_at, notified, "
    "last_notified_at, flapping, last_change, parent, short, count, body, search"
)
_UPSERT = (
    f"INSERT INTO incidents ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(_COLUMNS.split(', ')))}) "
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])
)


def _incident_row(inc: Incident) -> tuple[object, ...]:
    short = inc.content.get("short")
    return (
        inc.id,
        inc.fingerprint,
        inc.state,
        inc.code,
        inc.severity,
        inc.source,
        inc.tenant,
        inc.first_seen,
        inc.last_seen,
        inc.resolved_at,
        inc.notified,
        inc.last_notified_at,
        bool(inc.flapping),
        inc.changes[-1] if inc.changes else None,
        inc.parent,
        short if isinstance(short, str) else "",
        inc.count,
        incident_json(inc),
        search_text(inc),
    )


def _where(f: IncidentFilter) -> tuple[str, list[object]]:
    """The filter as a WHERE clause (``incident_items.workspace_key`` holds case-folded names)."""
    parts: list[str] = ["(state = 'open' OR last_seen >= %s)"]
    args: list[object] = [f.since]
    for column, values in (("source", f.sources), ("code", f.codes)):
        if values:
            parts.append(f"{column} = ANY(%s)")
            args.append(list(values))
    if f.severities:
        unknown = "info" in f.severities
        parts.append("(severity = ANY(%s)" + (" OR NOT severity = ANY(%s))" if unknown else ")"))
        args += [list(f.severities), *([list(RANK)] if unknown else [])]
    if f.top_level:
        parts.append("parent IS NULL")
    if f.ids:
        parts.append("id = ANY(%s)")
        args.append(list(f.ids))
    if f.parent is not None:
        parts.append("parent = %s")
        args.append(f.parent)
    if f.q:
        parts.append("strpos(search, %s) > 0")  # both case-folded: a plain substring test, no LIKE
        args.append(f.q.casefold())
    if f.workspaces:
        parts.append("id IN (SELECT incident_id FROM incident_items WHERE workspace_key = ANY(%s))")
        args.append(sorted({w.casefold() for w in f.workspaces}))
    return " AND ".join(parts), args
