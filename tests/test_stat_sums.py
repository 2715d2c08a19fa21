"""The summed dashboard numbers of SQLite and PostgreSQL equal a plain count of the same incidents.

Both stores keep ``/api/stats`` summed per day and group (``enricher.store.stat_sums``)
and counts a few incidents exactly at the range's edges; the in-memory store counts every
incident from its rows (``tallies.exact_tally``). Random incidents (several workspaces, resolved
ones, failures on many days, a last failure after "now", a severity the knowledge base does not
know), saved and changed again, must give both stores the same numbers for every filter and range.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enricher.core.incidents import Book, Incident
from enricher.notification import ItemRef
from enricher.store import MemoryStore, SQLiteStore, Store
from enricher.store.queries import IncidentFilter
from enricher.store.sqlite import MIGRATIONS
from enricher.store.sqlite_dashboard import PARENTS, SEARCH
from enricher.store.stat_sums import _RESOLVED, STAT_BY_STORE, STAT_TABLES, _where
from enricher.store.tallies import Tally

NOW = datetime(2025, 4, 2, 9, 17, 30, tzinfo=UTC)
WORKSPACES = ("Finance", "Sales EMEA", "Ökonomie", "")
CODES = ("53003", "7000222", "50076")
SHORTS = {"53003": "Blocked by Conditional Access", "7000222": "Client secret expired", "50076": ""}


def incident(rng: random.Random, n: int) -> tuple[Incident, list[datetime]]:
    """An incident and the times its failures were recorded (fewer events than failures at times)."""
    first = NOW - timedelta(minutes=rng.randrange(0, 12 * 24 * 60))
    last = min(first + timedelta(minutes=rng.randrange(0, 4 * 24 * 60)), NOW + timedelta(hours=2))
    count = rng.randrange(1, 6)
    recorded = sorted(first + (last - first) * rng.random() for _ in range(rng.randrange(0, count + 2)))
    resolved = rng.random() < 0.4
    spaces = rng.sample(WORKSPACES, rng.randrange(1, 3))
    code = CODES[n % 3]
    inc = Incident(
        id=f"inc{n}",
        fingerprint=f"fp{n}",
        state="resolved" if resolved else "open",
        code=code,
        severity=rng.choice(("critical", "high", "medium", "odd")),
        tenant="contoso",
        source=rng.choice(("powerbi", "adf")),
        items=tuple(ItemRef("powerbi", w, f"item{n}-{i}", "dataset") for i, w in enumerate(spaces)),
        item_keys=tuple(f"key{n}-{i}" for i in range(len(spaces))),
        first_seen=first,
        last_seen=last,
        last_failure_at=last,
        count=count,
        content={"short": SHORTS[code]},
        labels={},
        resolved_at=last + timedelta(minutes=rng.randrange(1, 3000)) if resolved else None,
    )
    return inc, recorded


def fill(store: Store, seed: int, size: int) -> None:
    rng = random.Random(seed)
    made = [incident(rng, n) for n in range(size)]
    for inc, recorded in made:
        for at in recorded[: len(recorded) // 2]:
            store.add_event(inc.id, at, "failure")
    store.save_book(
        Book(incidents={i.fingerprint: i for i, _ in made}, touched={i.fingerprint for i, _ in made}), NOW
    )
    # the rest of the events after the save; then a third of the incidents change again
    for inc, recorded in made:
        for at in recorded[len(recorded) // 2 :]:
            store.add_event(inc.id, at, "failure")
    changed = {}
    for inc, _ in made[::3]:
        later = inc.last_seen + timedelta(hours=rng.randrange(1, 30))
        store.add_event(inc.id, later, "failure")
        changed[inc.fingerprint] = dataclasses.replace(
            inc, state="open", resolved_at=None, last_seen=later, count=inc.count + 1
        )
    store.save_book(Book(incidents=changed, touched=set(changed)), NOW)


def plain(counts: Tally) -> dict[tuple[str, ...], int]:
    return {k: v for k, v in counts.items() if v}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MemoryStore, Store]]:
    """The in-memory count against SQLite's sums, and against PostgreSQL's."""
    other: Store
    if request.param == "sqlite":
        other = SQLiteStore(tmp_path_factory.mktemp("sums") / "state.db")
    else:
        from enricher.store.postgres import PostgresStore

        other = PostgresStore(request.getfixturevalue("pg_cluster").create("sums"))
    memory = MemoryStore()
    fill(memory, 7, 400)
    fill(other, 7, 400)
    yield memory, other
    other.close()


SPANS = [timedelta(days=7), timedelta(days=1), timedelta(hours=5), timedelta(days=30), timedelta(minutes=1)]
FILTERS = [
    {},
    {"sources": ("adf",)},
    {"codes": ("53003", "50076")},
    {"severities": ("info", "high")},
    {"workspaces": ("sales emea",)},
    {"sources": ("powerbi",), "severities": ("critical",), "codes": ("7000222",)},
]


@pytest.mark.parametrize("span", SPANS, ids=str)
@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_sums_equal_a_plain_count(
    stores: tuple[MemoryStore, Store], span: timedelta, filters: dict[str, tuple[str, ...]]
) -> None:
    """Same numbers and resolve times from both stores, for every filter and range."""
    memory, other = stores
    f = IncidentFilter(NOW - span, **filters)
    want, want_seconds = memory.stat_tally(f, NOW)
    got, got_seconds = other.stat_tally(f, NOW)
    assert plain(got) == plain(want)
    assert sorted(got_seconds) == sorted(want_seconds)


def test_the_edges_are_exercised(stores: tuple[MemoryStore, Store]) -> None:
    """The random book has what the sums must get right: failures cut by the range's start, a last
    failure after now, resolved incidents last seen on the range's first day."""
    memory, _ = stores
    rows = memory.incident_rows(IncidentFilter(NOW - timedelta(days=400)))
    start = NOW - timedelta(days=7)
    assert any(r.last_seen > NOW for r in rows)
    assert any(r.state == "resolved" and r.last_seen.date() == start.date() for r in rows)
    assert any(r.first_seen.date() == start.date() and r.first_seen < start for r in rows)
    assert sum(len(r.workspaces) > 1 for r in rows) > 10


def test_an_older_store_is_summed_when_it_upgrades(tmp_path: Path) -> None:
    """Opening a store written before the sums existed fills them from its incidents."""
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    fill(store, 3, 60)
    f = IncidentFilter(NOW - timedelta(days=7))
    before = plain(store.stat_tally(f, NOW)[0])
    version = store.schema_version
    sums = MIGRATIONS.index(STAT_TABLES) + 1  # the migrations after the sums are undone first
    assert MIGRATIONS[sums : sums + 3] == (PARENTS, SEARCH, STAT_BY_STORE)
    store._db.executescript(
        "DROP INDEX incidents_first; DROP INDEX incidents_code; DROP INDEX incidents_list;"
        "ALTER TABLE incidents DROP COLUMN search; ALTER TABLE incidents DROP COLUMN parent;"
        "CREATE INDEX incidents_list ON incidents(state, severity, last_seen, resolved_at, source, code, id);"
        f"DROP TABLE stat_rows; DROP TABLE stat_cells; DROP INDEX outbox_incident; PRAGMA user_version = {sums - 1};"
    )  # the schema before the sums
    store.close()
    reopened = SQLiteStore(path)
    assert reopened.schema_version == version
    assert plain(reopened.stat_tally(f, NOW)[0]) == before and before
    reopened.close()


def test_an_older_postgres_store_is_summed_when_it_upgrades(postgres_url: str) -> None:
    """A PostgreSQL store written before its sums existed (schema 3) fills them when it opens."""
    import psycopg

    from enricher.store.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    fill(store, 3, 60)
    f = IncidentFilter(NOW - timedelta(days=7))
    before = plain(store.stat_tally(f, NOW)[0])
    version = store.schema_version
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE stat_rows; DROP TABLE stat_cells; UPDATE schema_version SET version = 3")
    reopened = PostgresStore(postgres_url)
    assert reopened.schema_version == version
    assert plain(reopened.stat_tally(f, NOW)[0]) == before and before
    reopened.close()


#: What migration 9 created before migration 12 replaced the triggers by the store's own sums.
OLD_TRIGGERS = """
    CREATE TRIGGER stat_rows_added AFTER INSERT ON stat_rows BEGIN
        INSERT INTO stat_cells VALUES (new.workspace, new.source, new.code, new.severity, new.short,
            new.is_open, new.last_day, new.day, new.n)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    END;
    CREATE TRIGGER stat_rows_removed AFTER DELETE ON stat_rows BEGIN
        UPDATE stat_cells SET n = n - old.n WHERE workspace = old.workspace AND source = old.source
            AND code = old.code AND severity = old.severity AND short = old.short
            AND is_open = old.is_open AND last_day = old.last_day AND day = old.day;
        DELETE FROM stat_cells WHERE workspace = old.workspace AND source = old.source
            AND code = old.code AND severity = old.severity AND short = old.short
            AND is_open = old.is_open AND last_day = old.last_day AND day = old.day AND n = 0;
    END;
"""


def test_a_store_summed_by_triggers_keeps_its_sums_when_it_upgrades(tmp_path: Path) -> None:
    """A state file whose sums triggers kept (schema 11) drops them when it opens, and its sums
    stay equal to a plain count through the saves that follow (a trigger left behind would count
    every row twice)."""
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    version = store.schema_version
    store._db.executescript(OLD_TRIGGERS + f"PRAGMA user_version = {MIGRATIONS.index(STAT_BY_STORE)};")
    store.close()
    reopened = SQLiteStore(path)
    assert reopened.schema_version == version
    memory = MemoryStore()
    fill(memory, 11, 80)
    fill(reopened, 11, 80)
    for span in SPANS:
        f = IncidentFilter(NOW - span)
        assert plain(reopened.stat_tally(f, NOW)[0]) == plain(memory.stat_tally(f, NOW)[0])
    names = reopened._db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert names == []
    reopened.close()


def test_cells_that_reach_zero_go(tmp_path: Path) -> None:
    """An incident saved again on another day leaves no empty cell behind for its old day."""
    store = SQLiteStore(tmp_path / "state.db")
    fill(store, 5, 40)
    cells = store._db.execute("SELECT COUNT(*) FROM stat_cells WHERE n = 0").fetchone()[0]
    assert cells == 0
    assert store._db.execute("SELECT COUNT(*) FROM stat_cells").fetchone()[0] > 0
    store.close()


@pytest.mark.parametrize(
    "f", [IncidentFilter(NOW), IncidentFilter(NOW, sources=("powerbi",), codes=("53003",))]
)
def test_the_resolved_times_are_read_in_their_index(tmp_path: Path, f: IncidentFilter) -> None:
    """Both halves of the resolved-times read search ``stat_rows_resolved``. SQLite plans without
    statistics, and given the index's old key it walked every counting row for the open half
    (51 ms of a 56 ms ``/api/stats`` at 100,000 incidents)."""
    store = SQLiteStore(tmp_path / "state.db")
    where, args = _where(f)
    plan = store._db.execute(
        f"EXPLAIN QUERY PLAN {_RESOLVED.format(where=where)}", ["", *args, *args]
    ).fetchall()
    searches = [detail for *_, detail in plan if detail.startswith(("SEARCH", "SCAN"))]
    assert len(searches) == 2 and all("USING INDEX stat_rows_resolved" in s for s in searches), searches
    store.close()
