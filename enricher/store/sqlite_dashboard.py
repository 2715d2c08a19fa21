"""The dashboard's questions in SQL: counts, one page of a list, light rows for the charts.

Each is one query over the incident columns (and ``incident_items`` for the workspace filter), so
the numbers are exact at any size and no incident body is decoded except for the page shown.
``enricher.store.queries`` says the same in Python (``matches``, ``list_key``); the contract
tests run both.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from enricher.core.incidents import Incident
from enricher.store.codec import incident_from
from enricher.store.queries import RANK, IncidentFilter, IncidentRow, Summary, shown_severity

#: Migration 5: case-folded workspace names for the workspace filter (older rows: ASCII lower case).
WORKSPACE_KEYS = """
    ALTER TABLE incident_items ADD COLUMN workspace_key TEXT NOT NULL DEFAULT '';
    UPDATE incident_items SET workspace_key = lower(workspace);
    CREATE INDEX incident_items_workspace ON incident_items(workspace_key);
    """
#: Migration 6: a page of a list is sorted in this index alone; only the page's bodies are read.
LIST_INDEX = """
    CREATE INDEX incidents_list ON incidents(state, severity, last_seen, resolved_at, source, code, id);
    """
#: Migration 10: the parent of a child incident, so lists can show the top level from the index.
PARENTS = """
    ALTER TABLE incidents ADD COLUMN parent TEXT;
    UPDATE incidents SET parent = json_extract(body, '$.parent');
    DROP INDEX incidents_list;
    CREATE INDEX incidents_list ON incidents(state, severity, last_seen, resolved_at, source, code, parent, id);
    """
#: Migration 11: the search text of each incident (``queries.search_text``; older rows get SQLite's
#: ASCII lower case until they are saved again) and the indexes the other list orders sort in.
SEARCH = """
    ALTER TABLE incidents ADD COLUMN search TEXT NOT NULL DEFAULT '';
    UPDATE incidents SET search = lower('aadsts' || code || ' ' || coalesce(json_extract(body, '$.content.title'), '')
        || coalesce((SELECT ' ' || group_concat(coalesce(json_extract(value, '$.item_name'), '') || ' '
        || coalesce(json_extract(value, '$.item_type'), '') || ' '
        || coalesce(json_extract(value, '$.container_name'), ''), ' ') FROM json_each(body, '$.items')), ''));
    CREATE INDEX incidents_first ON incidents(state, first_seen);
    CREATE INDEX incidents_code ON incidents(state, code, last_seen);
    """
#: Migration 15: the list index also holds ``first_seen`` and ``search``, so the header's counts and
#: a search read the index alone. Each incident row holds its body (about 4 KB here) before the
#: columns added later, so reading ``search`` from the row read a page or more per incident: at
#: 100,000 incidents a search page took 450 ms, 140 ms from the index (built in about 1 s).
LIST_COVERS = """
    DROP INDEX IF EXISTS incidents_list;
    CREATE INDEX incidents_list ON incidents(
        state, severity, last_seen, resolved_at, source, code, parent, id, first_seen, search);
    """
_RANK_SQL = (
    "CASE severity " + " ".join(f"WHEN '{s}' THEN {r}" for s, r in RANK.items()) + f" ELSE {RANK['info']} END"
)
_ORDER = (
    f" ORDER BY state != 'open', CASE WHEN state = 'open' THEN {_RANK_SQL} ELSE 0 END,"
    " CASE WHEN state = 'open' THEN last_seen END DESC, coalesce(resolved_at, last_seen) DESC, id"
)
#: ``queries.sort_key`` in SQL, per sort.
_ORDERS = {
    "severity": _ORDER,
    "last": " ORDER BY state != 'open', last_seen DESC, id",
    "first": " ORDER BY state != 'open', first_seen DESC, id",
    "code": " ORDER BY state != 'open', code, last_seen DESC, id",
}
_ROW = (
    "SELECT id, state, {severity}, code, coalesce(json_extract(body, '$.content.short'), ''), source, "
    "first_seen, last_seen, resolved_at, json_extract(body, '$.count') FROM incidents"
)


class DashboardQueries:
    """Mixed into ``SQLiteStore``, which provides ``_run``."""

    def _run(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def count_incidents(self, f: IncidentFilter) -> dict[str, int]:
        where, args = _where(f)
        rows = self._run(f"SELECT state, COUNT(*) FROM incidents WHERE {where} GROUP BY state", args)
        return {state: int(n) for state, n in rows.fetchall()}

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
            where, args = f"{where} AND state = ?", [*args, state]
        order = _ORDERS.get(sort, _ORDER)
        page = [
            r
            for (r,) in self._run(
                f"SELECT rowid FROM incidents WHERE {where}{order} LIMIT ? OFFSET ?", [*args, limit, offset]
            )
        ]
        bodies = dict(
            self._run(
                f"SELECT rowid, body FROM incidents WHERE rowid IN ({', '.join('?' * len(page))})", page
            )
        )
        return [incident_from(bodies[r]) for r in page]

    def summary(self, f: IncidentFilter, since: datetime) -> Summary:
        where, args = _where(f)
        at = since.isoformat()
        # grouped as stored, in the list index's order (no temporary B-tree: 32 to 19 ms at
        # 100,000), then folded as the dashboard shows them
        open_by = Counter[str]()
        for sev, n in self._run(
            f"SELECT severity, COUNT(*) FROM incidents WHERE {where} AND state = 'open' GROUP BY severity",
            args,
        ):
            open_by[shown_severity(sev)] += int(n)
        new, resolved = self._run(
            f"SELECT COALESCE(SUM(first_seen >= ?), 0), COALESCE(SUM(resolved_at >= ?), 0) FROM incidents "
            f"WHERE {where} AND (first_seen >= ? OR resolved_at >= ?)",
            [at, at, *args, at, at],
        ).fetchone()
        return Summary(dict(open_by), int(new), int(resolved))

    def incident_rows(self, f: IncidentFilter) -> list[IncidentRow]:
        where, args = _where(f)
        spaces: dict[str, list[str]] = {}
        for iid, name in self._run(
            f"SELECT incident_id, workspace FROM incident_items WHERE workspace != '' AND incident_id IN "
            f"(SELECT id FROM incidents WHERE {where}) ORDER BY rowid",
            args,
        ).fetchall():
            spaces.setdefault(iid, []).append(name)
        severity = f"CASE WHEN severity IN ({', '.join(repr(s) for s in RANK)}) THEN severity ELSE 'info' END"
        rows = self._run(_ROW.format(severity=severity) + f" WHERE {where}", args).fetchall()
        return [
            IncidentRow(
                iid,
                state,
                sev,
                code,
                short,
                source,
                datetime.fromisoformat(first),
                datetime.fromisoformat(last),
                datetime.fromisoformat(resolved) if resolved else None,
                int(count),
                tuple(dict.fromkeys(spaces.get(iid, ()))),
            )
            for iid, state, sev, code, short, source, first, last, resolved, count in rows
        ]

    def failure_events(self, f: IncidentFilter) -> dict[str, list[datetime]]:
        where, args = _where(f)
        found: dict[str, list[datetime]] = {}
        for iid, at in self._run(
            "SELECT incident_id, at FROM incident_events WHERE kind = 'failure' AND incident_id IN "
            f"(SELECT id FROM incidents WHERE {where}) ORDER BY id",
            args,
        ).fetchall():
            found.setdefault(iid, []).append(datetime.fromisoformat(at))
        return found


def _where(f: IncidentFilter) -> tuple[str, list[object]]:
    """The filter as a WHERE clause (``incident_items.workspace_key`` holds case-folded names)."""
    parts: list[str] = ["(state = 'open' OR last_seen >= ?)"]
    args: list[object] = [f.since.isoformat()]
    for column, values in (("source", f.sources), ("code", f.codes)):
        if values:
            parts.append(f"{column} IN ({', '.join('?' * len(values))})")
            args += values
    if f.severities:
        unknown = "info" in f.severities
        marks = ", ".join("?" * len(f.severities))
        known = ", ".join("?" * len(RANK))
        parts.append(f"(severity IN ({marks})" + (f" OR severity NOT IN ({known}))" if unknown else ")"))
        args += [*f.severities, *(RANK if unknown else ())]
    if f.top_level:
        parts.append("parent IS NULL")
    if f.ids:
        parts.append(f"id IN ({', '.join('?' * len(f.ids))})")
        args += f.ids
    if f.parent is not None:
        parts.append("parent = ?")
        args.append(f.parent)
    if f.q:
        parts.append("instr(search, ?) > 0")  # both case-folded: a plain substring test, no LIKE
        args.append(f.q.casefold())
    if f.workspaces:
        keys = sorted({w.casefold() for w in f.workspaces})
        parts.append(
            f"id IN (SELECT incident_id FROM incident_items WHERE workspace_key IN ({', '.join('?' * len(keys))}))"
        )
        args += keys
    return " AND ".join(parts), args
