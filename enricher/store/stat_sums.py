"""The dashboard's numbers kept summed, so ``/api/stats`` costs the same at 100 or 100,000 incidents.

Adding up one row per incident on every request took 2.8 s at 100,000 incidents. Instead each
incident keeps a few ``stat_rows`` (rewritten whenever it is saved or gets a failure event): one
that counts it, one per UTC day with its failures that day, and the same again per workspace.
Every row is added into ``stat_cells``, keyed by everything the filters and charts group by
(workspace, source, code, severity, title, open or the day it was last seen, failure day), and
taken out again when the row goes, so the cells always hold the sums, inside the same
transaction. A request adds up the cells of its filter: a few thousand rows, whatever the size.
Triggers did the adding once, a statement per row (40,000 for a first poll of 10,000 failures);
the store now adds up what one save changes per cell in Python and writes each cell once.

The cells know days, not times. A range starts at ``now - span``, inside a day, so three kinds of
incident are taken out of the sums and counted exactly from their own rows and events
(``tallies.exact_tally``): a resolved incident last seen on the range's first day (is it in the
range?), an incident with failures on that first day before the range starts, and an incident
last seen after the range's end (no failure time is later than ``last_seen``, so nothing else can
fall after the end). A workspace filter (incidents with any of several workspaces) is counted
exactly the same way for all the incidents it matches.

Both stores keep the sums the same way (SQLite and PostgreSQL, whose tables differ only in
types): the statements here are written once, with SQLite's ``?`` placeholders, and run through
``_stat_run``/``_stat_many``, which the PostgreSQL store points at its own with ``%s``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from enricher.core.incidents import Incident
from enricher.store.codec import incident_from
from enricher.store.queries import IncidentFilter, IncidentRow, row_of
from enricher.store.tallies import Tally, day_of, exact_tally, failure_times, resolve_seconds, summed_row

#: SQLite's migration 9: the summed numbers (the store fills them from the existing incidents once).
STAT_TABLES = """
    CREATE TABLE stat_rows (
        incident_id TEXT NOT NULL, workspace TEXT NOT NULL, day TEXT NOT NULL, n INTEGER NOT NULL,
        is_open INTEGER NOT NULL, last_day TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL,
        code TEXT NOT NULL, severity TEXT NOT NULL, short TEXT NOT NULL, resolve_s REAL,
        PRIMARY KEY (incident_id, workspace, day)) WITHOUT ROWID;
    CREATE INDEX stat_rows_at ON stat_rows(workspace, day, at);
    CREATE INDEX stat_rows_resolved ON stat_rows(is_open, at)
        WHERE resolve_s IS NOT NULL AND workspace = '' AND day = '';
    CREATE TABLE stat_cells (
        workspace TEXT NOT NULL, source TEXT NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
        short TEXT NOT NULL, is_open INTEGER NOT NULL, last_day TEXT NOT NULL, day TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (workspace, source, code, severity, short, is_open, last_day, day)) WITHOUT ROWID;
    """
#: Migration 12: the cells are kept by ``_stat_refresh_many``; the triggers that kept them before
#: (migration 9 created them until this one replaced them) are dropped.
STAT_BY_STORE = """
    DROP TRIGGER IF EXISTS stat_rows_added;
    DROP TRIGGER IF EXISTS stat_rows_removed;
    """
#: SQLite's migration 14 (PostgreSQL's 6): the resolved-times index with the two constant columns
#: in its key. With only ``(is_open, at)``, SQLite (no ANALYZE statistics) preferred
#: ``stat_rows_at``'s two equal columns for the open half of ``_RESOLVED`` and walked every
#: counting row: 51 of the 56 ms of ``/api/stats`` at 100,000 incidents. Three equal columns win.
STAT_RESOLVED_INDEX = """
    DROP INDEX IF EXISTS stat_rows_resolved;
    CREATE INDEX stat_rows_resolved ON stat_rows(is_open, workspace, day, at)
        WHERE resolve_s IS NOT NULL AND workspace = '' AND day = '';
    """
_CELL_KEY = "workspace, source, code, severity, short, is_open, last_day, day"
_CELL_MATCH = " AND ".join(f"{c} = ?" for c in _CELL_KEY.split(", "))
_SUMS = (
    "SELECT workspace, source, code, short, is_open, day, SUM(n) FROM {table} "
    "WHERE (is_open = 1 OR last_day >= ?) AND (day = '' OR day BETWEEN ? AND ?){where} "
    "GROUP BY workspace, source, code, short, is_open, day"
)
#: Incidents the day sums may place wrongly (see the module docstring).
_ODD = (
    "SELECT incident_id FROM stat_rows WHERE workspace = '' AND day = '' AND is_open = 0 "
    "AND at >= ? AND at < ?{where} UNION "
    "SELECT incident_id FROM stat_rows WHERE workspace = '' AND day = ? AND at < ?{where} UNION "
    "SELECT incident_id FROM stat_rows WHERE workspace = '' AND day = '' AND at > ?{where}"
)
_RESOLVED = (
    "SELECT resolve_s FROM stat_rows WHERE resolve_s IS NOT NULL AND workspace = '' AND day = '' "
    "AND is_open = 0 AND at >= ?{where} UNION ALL "
    "SELECT resolve_s FROM stat_rows WHERE resolve_s IS NOT NULL AND workspace = '' AND day = '' "
    "AND is_open = 1{where}"
)
_CHUNK = 500


#: PostgreSQL's migration 4: the same tables (times as ISO text in UTC, as SQLite keeps them, so
#: the same comparisons hold).
PG_STAT_TABLES = STAT_TABLES.replace(" WITHOUT ROWID", "").replace("REAL", "DOUBLE PRECISION")


class StatTables:
    """Mixed into ``SQLiteStore`` and ``PostgresStore``, which provide ``_stat_run``,
    ``_stat_many`` (statements with ``?``), ``_stale`` and the dashboard's reads."""

    #: incidents whose failure events changed since their rows were written (``add_event``)
    _stale: set[str]

    def _stat_run(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _stat_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        raise NotImplementedError

    incident_rows: Callable[[IncidentFilter], list[IncidentRow]]
    failure_events: Callable[[IncidentFilter], dict[str, list[datetime]]]

    def _stat_refresh(self, inc: Incident) -> None:
        """Rewrite the incident's rows and move the sums."""
        self._stat_refresh_many([inc])

    def _stat_refresh_many(self, incs: Sequence[Incident]) -> None:
        """Rewrite these incidents' rows: one read of their failures and old rows, one delete and
        one insert statement per chunk of ids; then each cell the change moves, once."""
        recorded: dict[str, list[datetime]] = {inc.id: [] for inc in incs}
        self._stale.difference_update(recorded)
        moved: Counter[tuple[object, ...]] = Counter()
        for chunk in _chunks(list(recorded)):
            marks = ", ".join("?" * len(chunk))
            for iid, at in self._stat_run(
                f"SELECT incident_id, at FROM incident_events WHERE kind = 'failure' AND incident_id IN ({marks}) "
                "ORDER BY id",
                chunk,
            ):
                recorded[iid].append(_when(at))
            for *cell, n in self._stat_run(
                f"SELECT {_CELL_KEY}, n FROM stat_rows WHERE incident_id IN ({marks})", chunk
            ):
                moved[tuple(cell)] -= n
            self._stat_run(f"DELETE FROM stat_rows WHERE incident_id IN ({marks})", chunk)
        rows = [row for inc in incs for row in stat_rows_of(inc, recorded[inc.id])]
        self._stat_many("INSERT INTO stat_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        for _, workspace, day, n, is_open, last_day, _, source, code, severity, short, _ in rows:
            moved[workspace, source, code, severity, short, is_open, last_day, day] += n  # type: ignore[operator]
        self._stat_move(moved)

    def _stat_move(self, moved: Counter[tuple[object, ...]]) -> None:
        """Add each cell's change; a cell whose count reaches 0 goes."""
        changed = [(cell, n) for cell, n in moved.items() if n]
        self._stat_many(
            f"INSERT INTO stat_cells ({_CELL_KEY}, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT ({_CELL_KEY}) DO UPDATE SET n = stat_cells.n + excluded.n",
            [(*cell, n) for cell, n in changed],
        )
        self._stat_many(
            f"DELETE FROM stat_cells WHERE {_CELL_MATCH} AND n = 0", [cell for cell, n in changed if n < 0]
        )

    def _stat_flush(self) -> None:
        """At the end of a transaction: the rows of incidents given a failure event and not saved
        since (a poll saves every incident it records a failure for, so there it finds none)."""
        if not self._stale:
            return
        incs = []
        for chunk in _chunks(sorted(self._stale)):
            marks = ", ".join("?" * len(chunk))
            incs += [
                incident_from(b)
                for (b,) in self._stat_run(f"SELECT body FROM incidents WHERE id IN ({marks})", chunk)
            ]
        self._stale.clear()
        self._stat_refresh_many(incs)

    def _stat_rebuild(self) -> None:
        """Every incident's rows, when the tables are new (a migration)."""
        ids = [i for (i,) in self._stat_run("SELECT id FROM incidents")]
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            rows = self._stat_run(f"SELECT body FROM incidents WHERE id IN ({marks})", chunk)
            self._stat_refresh_many([incident_from(b) for (b,) in rows])

    def stat_tally(self, f: IncidentFilter, end: datetime) -> tuple[Tally, list[float]]:
        start = f.since
        if f.workspaces:
            return exact_tally(self.incident_rows(f), self.failure_events(f), start, end)
        where, args = _where(f)
        first, last = day_of(start), day_of(end)
        counts: Tally = Counter()
        for row in self._stat_run(_SUMS.format(table="stat_cells", where=where), [first, first, last, *args]):
            summed_row(counts, *row)
        begin, stop = _iso(start), _iso(end)
        odd = [
            i
            for (i,) in self._stat_run(
                _ODD.format(where=where),
                [f"{first}T00:00:00+00:00", begin, *args, first, begin, *args, stop, *args],
            )
        ]
        for chunk in _chunks(odd):
            marks = ", ".join("?" * len(chunk))
            sums = _SUMS.format(table="stat_rows", where=f" AND incident_id IN ({marks})")
            for workspace, source, code, short, is_open, day, n in self._stat_run(
                sums, [first, first, last, *chunk]
            ):
                summed_row(counts, workspace, source, code, short, is_open, day, -n)
            counts.update(self._exact(chunk, start, end))
        seconds = [s for (s,) in self._stat_run(_RESOLVED.format(where=where), [begin, *args, *args])]
        return counts, seconds

    def _exact(self, ids: Sequence[str], start: datetime, end: datetime) -> Tally:
        marks = ", ".join("?" * len(ids))
        bodies = self._stat_run(f"SELECT body FROM incidents WHERE id IN ({marks})", ids)
        rows = [
            r for (b,) in bodies if (r := row_of(incident_from(b))).state == "open" or r.last_seen >= start
        ]
        recorded: dict[str, list[datetime]] = {}
        for iid, at in self._stat_run(
            f"SELECT incident_id, at FROM incident_events WHERE kind = 'failure' AND incident_id IN ({marks}) "
            "ORDER BY id",
            ids,
        ):
            recorded.setdefault(iid, []).append(_when(at))
        return exact_tally(rows, recorded, start, end)[0]


def stat_rows_of(inc: Incident, recorded: Sequence[datetime]) -> list[tuple[object, ...]]:
    """The incident's rows: (id, workspace, day, n, is_open, last_day, at, source, code, severity,
    short, resolve_s). ``at`` is ``last_seen`` for the counting rows and the day's first failure
    for the day rows; ``last_day`` is '' while the incident is open (every range includes it)."""
    row = row_of(inc)
    per_day: dict[str, int] = {}
    earliest: dict[str, datetime] = {}
    for t in failure_times(inc, recorded):
        day = _day(t)
        per_day[day] = per_day.get(day, 0) + 1
        if day not in earliest or t < earliest[day]:
            earliest[day] = t
    is_open = int(row.state == "open")
    common = (is_open, "" if is_open else _day(row.last_seen))
    dims = (row.source, row.code, row.severity, row.short)
    days = [(day, n, _iso(earliest[day])) for day, n in per_day.items()]
    last = _iso(row.last_seen)
    out: list[tuple[object, ...]] = [(row.id, "", "", 1, *common, last, *dims, resolve_seconds(row))]
    for workspace in ("", *row.workspaces):
        if workspace:
            out.append((row.id, workspace, "", 1, *common, last, *dims, None))
        out += [(row.id, workspace, day, n, *common, at, *dims, None) for day, n, at in days]
    return out


def _where(f: IncidentFilter) -> tuple[str, list[object]]:
    """Source, code and severity (stored as shown: an unknown severity is 'info')."""
    parts: list[str] = []
    args: list[object] = []
    for column, values in (("source", f.sources), ("code", f.codes), ("severity", f.severities)):
        if values:
            parts.append(f" AND {column} IN ({', '.join('?' * len(values))})")
            args += list(values)
    return "".join(parts), args


@functools.lru_cache(maxsize=4096)
def _when(at: str | datetime) -> datetime:
    """An event's time as each store returns it: ISO text from SQLite, a datetime from PostgreSQL."""
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


def _iso(at: datetime) -> str:
    """Cached: the incidents one save writes mostly share a few times (the poll's, their runs')."""
    return at.astimezone(UTC).isoformat()


@functools.lru_cache(maxsize=4096)
def _day(at: datetime) -> str:
    return day_of(at)


def _chunks(keys: Collection[str]) -> Iterator[list[str]]:
    ordered = list(keys)
    for begin in range(0, len(ordered), _CHUNK):
        yield ordered[begin : begin + _CHUNK]
