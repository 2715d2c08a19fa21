"""Exact numbers at any size: more open incidents than one page, counted by the store.

1,500 open and 300 resolved incidents over three workspaces, two sources and three codes, made
the way the pipeline makes them (detect -> enrich -> on_failure/on_success -> store), in both
stores. The API's totals and per-group counts must equal what a plain count of the same incidents
says, whatever the filters, and a page never holds more than its limit.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Incident, Policy, on_failure, on_success
from enricher.core.knowledge import load_knowledge
from enricher.dashboard import register
from enricher.health import HealthServer
from enricher.metrics import Metrics
from enricher.store import MemoryStore, SQLiteStore, Store
from enricher.store.queries import IncidentFilter, matches, search_text, sort_key
from tests.dashboard.conftest import Served

NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
OPEN, RESOLVED = 1500, 300
WORKSPACES = ("Finance", "Sales EMEA", "Ökonomie")
CODES = ("53003", "7000222", "50076")


def build(store: Store) -> list[Incident]:
    kb = load_knowledge()
    book = Book()
    for n in range(OPEN + RESOLVED):
        at = NOW - timedelta(hours=1 + n % 48)
        run = RunRecord(
            Source.ADF if n % 4 == 0 else Source.POWERBI,
            "contoso",
            f"ws{n % 3}",
            WORKSPACES[n % 3],
            f"item{n}",
            f"Item {n}",
            "dataset",
            f"run{n}",
            RunStatus.FAILED,
            ended_at=at,
            error_text=f"AADSTS{CODES[n % 3]}: failed",
        )
        alert = enrich(run, detect(run.error_text), kb)
        assert alert is not None
        inc = on_failure(book, alert, at, Policy())
        store.add_event(inc.id, at, "failure", f"run {run.run_id}")
        if n >= OPEN:
            on_success(book, run.item_key, at + timedelta(minutes=30), at, Policy())
    store.save_book(book, NOW)
    return list(book.incidents.values())


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgres"])
def scale(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, list[Incident]]]:
    path: Path = tmp_path_factory.mktemp("scale") / "state.db"
    store: Store = MemoryStore() if request.param == "memory" else SQLiteStore(path)
    if request.param == "postgres":
        from enricher.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_cluster").create("scale"))
    incidents = build(store)
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: None, lambda: NOW, timedelta(minutes=10))
    register(server, store, lambda: NOW)
    server.start()
    try:
        yield Served(server.url, NOW), incidents
    finally:
        server.stop()
        store.close()


def expected(incidents: list[Incident], **filters: tuple[str, ...]) -> Counter[str]:
    f = IncidentFilter(NOW - timedelta(days=7), **filters)
    return Counter(i.state for i in incidents if matches(i, f))


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ("", {}),
        ("source=adf", {"sources": ("adf",)}),
        ("code=53003,50076", {"codes": ("53003", "50076")}),
        ("workspace=%C3%96KONOMIE", {"workspaces": ("Ökonomie",)}),
        ("severity=high&source=powerbi", {"severities": ("high",), "sources": ("powerbi",)}),
    ],
)
def test_counts_are_exact(
    scale: tuple[Served, list[Incident]], query: str, filters: dict[str, tuple[str, ...]]
) -> None:
    """Totals in both endpoints equal a plain count, with more open incidents than fit a page."""
    served, incidents = scale
    want = expected(incidents, **filters)
    assert sum(want.values()) > 0
    listed = served.json(f"/api/incidents?{query}&limit=50")
    assert (listed["open"], listed["resolved"]) == (want["open"], want["resolved"])
    assert listed["total"] == want["open"] + want["resolved"] and len(listed["incidents"]) == 50
    totals = served.json(f"/api/stats?{query}")["totals"]
    assert (totals["open"], totals["resolved"], totals["incidents"]) == (
        want["open"], want["resolved"], want["open"] + want["resolved"]
    )  # fmt: skip


def test_everything_counts(scale: tuple[Served, list[Incident]]) -> None:
    """All 1,800 incidents and their 1,800 failures; groups add up; the open list is worst first."""
    served, _ = scale
    stats = served.json("/api/stats")
    assert stats["totals"] == {"incidents": 1800, "open": 1500, "resolved": 300, "failures": 1800}
    assert sum(g["incidents"] for g in stats["by_code"]) == 1800
    assert sum(g["open"] for g in stats["by_source"]) == 1500
    assert {g["container_name"] for g in stats["top_containers"]} == set(WORKSPACES)
    assert stats["time_to_resolve"]["count"] == 300
    page = served.json("/api/incidents?state=open&limit=1000")
    assert page["total"] == 1500 and len(page["incidents"]) == 1000
    ranks = ["critical", "high", "medium", "low", "info"]
    severities = [ranks.index(i["severity"]) for i in page["incidents"]]
    assert severities == sorted(severities)
    status, _, html = served.get("/")
    assert status == 200 and b'<h2 id="open-h">1500 open' in html


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_both_stores_list_alike(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The SQL order and rows are the Python ones (``list_key``, ``row_of``)."""
    memory, sqlite = MemoryStore(), SQLiteStore(tmp_path / "state.db")
    if kind == "postgres":
        from enricher.store.postgres import PostgresStore

        sqlite.close()
        sqlite = PostgresStore(request.getfixturevalue("postgres_url"))  # type: ignore[assignment]
    build(memory), build(sqlite)
    f = IncidentFilter(NOW - timedelta(hours=20), workspaces=("sales emea",))
    assert [i.id for i in memory.list_incidents(f, limit=400)] == [
        i.id for i in sqlite.list_incidents(f, limit=400)
    ]
    by_id = {r.id: r for r in memory.incident_rows(f)}
    assert sorted(by_id.values(), key=lambda r: r.id) == sorted(sqlite.incident_rows(f), key=lambda r: r.id)
    assert memory.failure_events(f) == sqlite.failure_events(f) and len(by_id) > 0
    assert dataclasses.asdict(next(iter(by_id.values())))["workspaces"] == ("Sales EMEA",)
    sqlite.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("sort", ["severity", "last", "first", "code"])
def test_both_stores_sort_search_and_page_alike(
    kind: str, sort: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every list order, a search and an offset give the same page in both stores, and the
    first-screen summary the same numbers (the Python meaning: ``sort_key``, ``matches``)."""
    memory, store = MemoryStore(), SQLiteStore(tmp_path / "state.db")
    if kind == "postgres":
        from enricher.store.postgres import PostgresStore

        store.close()
        store = PostgresStore(request.getfixturevalue("postgres_url"))  # type: ignore[assignment]
    incidents = build(memory)
    build(store)
    for f in (IncidentFilter(NOW - timedelta(days=7)), IncidentFilter(NOW - timedelta(days=7), q="ökonomie")):
        pages = [s.list_incidents(f, limit=30, offset=60, sort=sort) for s in (memory, store)]
        assert [i.id for i in pages[0]] == [i.id for i in pages[1]] and len(pages[0]) == 30
        want = sorted((i for i in incidents if matches(i, f)), key=sort_key(sort))[60:90]
        assert [i.id for i in pages[0]] == [i.id for i in want]
        assert memory.summary(f, NOW - timedelta(hours=12)) == store.summary(f, NOW - timedelta(hours=12))
    found = store.list_incidents(IncidentFilter(NOW - timedelta(days=7), q="item 17"), limit=1000)
    assert {i.id for i in found} == {i.id for i in incidents if "item 17" in search_text(i)} != set()
    assert store.count_incidents(IncidentFilter(NOW - timedelta(days=7), q="50%_")) == {}
    one = incidents[5]
    assert [i.id for i in store.list_incidents(IncidentFilter(NOW - timedelta(days=7), ids=(one.id,)))] == [
        one.id
    ]
    summary = store.summary(IncidentFilter(NOW - timedelta(days=7)), NOW - timedelta(hours=12))
    assert sum(summary.open_by_severity.values()) == OPEN and summary.new > 0 and summary.resolved > 0
    store.close()


@pytest.mark.parametrize("q", ["", "sales emea"])
def test_the_header_counts_and_a_search_read_no_incident_row(tmp_path: Path, q: str) -> None:
    """The counts above a list and a search's page are answered from ``incidents_list`` alone:
    an incident's row holds its whole body, so reading a column from it costs a page or more per
    incident (a search of 100,000 incidents took 450 ms that way, 140 ms from the index)."""
    store = SQLiteStore(tmp_path / "state.db")
    f = IncidentFilter(NOW - timedelta(days=7), top_level=True, q=q)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    store.count_incidents(f)
    store.summary(f, NOW - timedelta(days=1))
    store.list_incidents(f, state="open", limit=25)
    store._db.set_trace_callback(None)
    reads = [s for s in statements if s.startswith("SELECT") and "rowid IN" not in s]  # the page's bodies
    assert len(reads) == 4, statements
    for sql in reads:
        plan = [detail for *_, detail in store._db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert any("COVERING INDEX incidents_list" in d for d in plan) and not any(
            d.startswith("SCAN incidents") and "INDEX" not in d for d in plan
        ), (sql, plan)
    store.close()


def test_a_severity_the_dashboard_does_not_know_counts_as_info(tmp_path: Path) -> None:
    """A severity from an older knowledge base (or a hand-edited one) is summed under 'info' in
    both stores; SQLite groups the stored values and folds them in Python."""
    memory, store = MemoryStore(), SQLiteStore(tmp_path / "state.db")
    odd = next(i for i in build(memory) if i.state == "open")
    build(store)
    memory._s.incidents[odd.id] = dataclasses.replace(odd, severity="urgent")
    store._db.execute("UPDATE incidents SET severity = 'urgent' WHERE id = ?", (odd.id,))
    f, since = IncidentFilter(NOW - timedelta(days=7)), NOW - timedelta(hours=12)
    summary = store.summary(f, since)
    assert summary == memory.summary(f, since) and summary.open_by_severity["info"] == 1
    store.close()
