"""One contract, three stores: the SQLite default, PostgreSQL for replicas and the in-memory fake."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.config import Match
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Incident, Policy, Scope, batch_tenant, flush, on_failure, on_success
from enricher.core.knowledge import load_knowledge
from enricher.core.routing import Silence
from enricher.errors import StoreError
from enricher.notification import Notification
from enricher.store import MemoryStore, SQLiteStore, Store
from enricher.store.base import Event
from enricher.store.books import flush_book, poll_book
from enricher.store.codec import incident_json
from enricher.store.queries import IncidentFilter
from enricher.store.sqlite import MIGRATIONS

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
KB = load_knowledge()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each contract test runs on every store (PostgreSQL: a new database on a throwaway server)."""
    s: Store
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        s = SQLiteStore(tmp_path / "state.db")
    else:
        from enricher.store.postgres import PostgresStore

        s = PostgresStore(request.getfixturevalue("postgres_url"))
    yield s
    s.close()


def record(run_id: str = "r1", status: RunStatus = RunStatus.FAILED, item: str = "ds1") -> RunRecord:
    return RunRecord(
        Source.POWERBI,
        "contoso",
        "ws1",
        "Finance",
        item,
        "Model",
        "dataset",
        run_id,
        status,
        ended_at=T0,
        error_text="AADSTS53003: blocked",
    )


def notification(item: str = "ds1", at: datetime = T0) -> Notification:
    book = Book()
    alert = enrich(record(item=item), detect("AADSTS53003: blocked"), KB)
    assert alert is not None
    on_failure(book, alert, at, Policy())
    (n,) = flush(book, at + timedelta(minutes=1), Policy(), lambda labels, now: False)
    return n


def test_cursor_round_trip(store: Store) -> None:
    assert store.get_cursor("contoso/adf") == {}
    store.set_cursor("contoso/adf", {"sub/rg/f": "2025-04-02T06:00:00Z"}, T0)
    assert store.get_cursor("contoso/adf") == {"sub/rg/f": "2025-04-02T06:00:00Z"}


def test_seen_runs(store: Store) -> None:
    """New runs once; the same run again only when its status changed; running runs wait."""
    running = record("r2", RunStatus.RUNNING)
    assert [r.run_id for r in store.take_unseen([record(), record(), running], T0)] == ["r1"]
    assert store.take_unseen([record()], T0) == []
    done = dataclasses.replace(running, status=RunStatus.SUCCEEDED)
    assert [r.run_id for r in store.take_unseen([done], T0)] == ["r2"]
    assert store.prune_seen(T0 + timedelta(seconds=1)) == 2
    assert len(store.take_unseen([record()], T0)) == 1


def test_seen_runs_in_chunks(store: Store) -> None:
    """A first poll of more runs than one query's parameters: every run new once, then none."""
    many = [record(f"r{n}") for n in range(1_203)]
    assert len(store.take_unseen(many, T0)) == 1_203
    assert store.take_unseen([*many, record("r9999")], T0) == [record("r9999")]


def test_events_one_by_one_and_in_a_batch(store: Store) -> None:
    """``add_events`` keeps its order after what ``add_event`` wrote, and the dashboard's numbers
    count each failure on the day its event says (not all three on the last one)."""
    book = Book()
    alert = enrich(record(), detect("AADSTS53003: blocked"), KB)
    assert alert is not None
    inc = on_failure(book, alert, T0, Policy())
    inc = dataclasses.replace(inc, count=3, first_seen=T0 - timedelta(days=2))
    book.incidents[inc.fingerprint] = inc
    store.save_book(book, T0)
    store.add_event(inc.id, T0 - timedelta(days=2), "failure", "run r1")
    with store.transaction():
        store.add_events(
            [
                Event(inc.id, T0 - timedelta(days=1), "failure", "run r2"),
                Event(inc.id, T0, "failure", "run r3"),
                Event(inc.id, T0, "notify:firing", "file"),
            ]
        )
    assert [(e.kind, e.detail) for e in store.events(inc.id)] == [
        ("failure", "run r1"),
        ("failure", "run r2"),
        ("failure", "run r3"),
        ("notify:firing", "file"),
    ]
    tally, _ = store.stat_tally(IncidentFilter(T0 - timedelta(days=3)), T0 + timedelta(hours=1))
    days = {key[1]: n for key, n in tally.items() if key[0] == "day"}
    assert days == {"2025-03-31": 1, "2025-04-01": 1, "2025-04-02": 1}


def test_book_round_trip_and_rollback(store: Store) -> None:
    book = Book()
    alert = enrich(record(), detect("AADSTS53003: blocked"), KB)
    assert alert is not None
    inc = on_failure(book, alert, T0, Policy(), streak=2)
    store.save_book(book, T0)
    loaded = poll_book(store, [inc.fingerprint], [], T0)
    assert loaded.incidents[inc.fingerprint] == inc
    assert loaded.pending == book.pending
    with pytest.raises(RuntimeError), store.transaction():
        store.set_streak("x", 3)
        store.set_cursor("s", {"a": "b"}, T0)
        raise RuntimeError("crash mid-cycle")
    assert store.get_streak("x") == 0 and store.get_cursor("s") == {}
    assert [i.id for i in store.incidents(state="open")] == [inc.id]


def test_outbox_is_idempotent_and_ordered(store: Store) -> None:
    first = notification()
    second = dataclasses.replace(first, id="resolved-x", kind="resolved")
    assert store.enqueue(first, ["slack", "email"], T0) == 2
    assert store.enqueue(first, ["slack", "email"], T0) == 0  # a redone cycle adds nothing
    store.enqueue(second, ["slack"], T0)
    due = store.due(T0)
    assert sorted((r.sink, r.notification.id) for r in due) == [("email", first.id), ("slack", first.id)]
    slack = next(r for r in due if r.sink == "slack")
    store.mark_retry(slack.id, T0 + timedelta(minutes=1), "HTTP 503")
    assert [r.sink for r in store.due(T0)] == ["email"]  # slack waits, and so does its second message
    assert [r.notification.id for r in store.due(T0 + timedelta(minutes=2)) if r.sink == "slack"] == [
        first.id
    ]
    store.mark_delivered(slack.id, T0)
    assert [r.notification.id for r in store.due(T0 + timedelta(minutes=2)) if r.sink == "slack"] == [
        "resolved-x"
    ]
    assert store.outbox_depth() == {"slack": 1, "email": 1}
    email = next(r for r in due if r.sink == "email")
    store.mark_dead(email.id, T0, "550 mailbox unavailable")
    assert [r.last_error for r in store.outbox(state="dead")] == ["550 mailbox unavailable"]
    assert store.outbox(state="delivered")[0].notification == first
    # what the incident's page shows: each sink's outcome, oldest first, with when it ended
    store.enqueue(dataclasses.replace(first, id="firing-z", incident_id="other"), ["slack"], T0)
    outcomes = [
        (r.notification.id, r.sink, r.state, r.attempts, r.finished_at)
        for r in store.outbox_of(first.incident_id)
    ]
    assert outcomes == [
        (first.id, "slack", "delivered", 2, T0),
        (first.id, "email", "dead", 1, T0),
        ("resolved-x", "slack", "pending", 0, None),
    ]


def test_in_flight_mark_pause_and_backlog(store: Store) -> None:
    """The attempt is marked before sending and cleared by its outcome; a pause moves the whole sink."""
    first = notification()
    other = dataclasses.replace(first, id="firing-y", incident_id="inc-y")
    store.enqueue(first, ["slack", "email"], T0)
    store.enqueue(other, ["slack"], T0 + timedelta(minutes=1))
    (slack,) = store.due(T0, sink="slack")
    assert [r.sink for r in store.due(T0, sink="email")] == ["email"]
    store.mark_sending(slack.id, T0)
    (again,) = [r for r in store.outbox(state="pending") if r.id == slack.id]
    assert again.sending_at == T0  # a crash now leaves this row marked as possibly sent
    store.mark_retry(slack.id, T0 + timedelta(seconds=5), "HTTP 429")
    assert all(r.sending_at is None for r in store.outbox())
    assert store.defer_sink("slack", T0 + timedelta(minutes=10)) == 2  # both slack rows, not email's
    assert store.due(T0 + timedelta(minutes=9), sink="slack") == []
    assert [r.sink for r in store.due(T0 + timedelta(minutes=9))] == ["email"]
    backlog = store.backlog()
    assert backlog["slack"].depth == 2 and backlog["slack"].oldest == T0
    assert backlog["slack"].next_at == T0 + timedelta(minutes=10)
    assert store.outbox_depth() == {"slack": 2, "email": 1}


def test_silences(store: Store) -> None:
    s = Silence("s1", Match.model_validate({"code": "53003"}), T0 + timedelta(hours=1), "ticket 42", "ops")
    store.add_silence(s)
    assert store.silences(T0) == [s]
    assert store.expire_silence("s1", T0) and not store.expire_silence("nope", T0)
    assert store.silences(T0) == []
    assert store.silences(T0, include_expired=True)[0].comment == "ticket 42"


def test_heartbeat(store: Store) -> None:
    assert store.last_beat("poll:x") is None
    store.beat("poll:x", T0, "ok")
    assert store.last_beat("poll:x") == (T0, "ok")


class TestSQLiteOnly:
    def test_reopen_keeps_state_and_schema(self, tmp_path: Path) -> None:
        path = tmp_path / "state.db"
        s = SQLiteStore(path)
        s.set_cursor("a", {"k": "v"}, T0)
        s.close()
        again = SQLiteStore(path)
        assert again.get_cursor("a") == {"k": "v"} and again.schema_version >= 1
        assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        again.close()

    def test_upgrade_from_schema_2_keeps_the_outbox(self, tmp_path: Path) -> None:
        """A database written before the in-flight mark opens, keeps its rows and gains the column."""
        from enricher.store.sqlite import MIGRATIONS

        path = tmp_path / "state.db"
        db = sqlite3.connect(path, isolation_level=None)
        for script in MIGRATIONS[:2]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 2")
        db.execute(
            "INSERT INTO outbox (notification_id, sink, incident_id, body, created_at, next_at, updated_at) "
            "VALUES ('n1', 'slack', 'i1', ?, ?, ?, ?)",
            (json.dumps(notification().to_dict()), T0.isoformat(), T0.isoformat(), T0.isoformat()),
        )
        db.close()
        s = SQLiteStore(path)
        (row,) = s.due(T0)
        assert row.sending_at is None and s.schema_version == len(MIGRATIONS)
        s.close()

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "state.db"
        db = sqlite3.connect(path)
        db.execute("PRAGMA user_version = 999")
        db.close()
        with pytest.raises(StoreError, match="newer version"):
            SQLiteStore(path)

    def test_unwritable_location(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(StoreError, match="cannot open state database"):
            SQLiteStore(blocker / "sub" / "state.db")


def failing(book: Book, item: str, at: datetime, code: str = "53003", tenant: str = "contoso") -> Incident:
    rec = dataclasses.replace(
        record(f"run-{item}-{at:%H%M}", item=item), error_text=f"AADSTS{code}: x", ended_at=at, tenant=tenant
    )
    alert = enrich(rec, detect(rec.error_text), KB)
    assert alert is not None
    return on_failure(book, alert, at, Policy())


class TestIncidentQueries:
    """Each step asks the store only for what it may change; both stores answer alike."""

    def test_current_incident_of_a_fingerprint(self, store: Store) -> None:
        """Open incidents and ones resolved since the horizon are current; older resolved are not."""
        book = Book()
        a, b, c = (failing(book, item, T0) for item in ("a", "b", "c"))
        on_success(book, "contoso/powerbi/ws1/b", T0 + timedelta(hours=3), T0, Policy())
        on_success(book, "contoso/powerbi/ws1/c", T0 + timedelta(hours=1), T0, Policy())
        store.save_book(book, T0)
        found = store.current_incidents(
            [a.fingerprint, b.fingerprint, c.fingerprint, "nope"], T0 + timedelta(hours=2)
        )
        assert sorted(i.id for i in found) == sorted([a.id, b.id])

    def test_open_incidents_of_items(self, store: Store) -> None:
        book = Book()
        a = failing(book, "a", T0)
        failing(book, "b", T0 + timedelta(minutes=1))
        a2 = failing(book, "a", T0 + timedelta(minutes=2), code="50076")
        store.save_book(book, T0)
        assert [i.id for i in store.open_incidents_of(["contoso/powerbi/ws1/a"])] == [a.id, a2.id]
        on_success(book, "contoso/powerbi/ws1/a", T0 + timedelta(hours=1), T0, Policy())
        store.save_book(book, T0)
        assert store.open_incidents_of(["contoso/powerbi/ws1/a"]) == []

    def test_due_incidents_and_ready_batches(self, store: Store) -> None:
        """Told an hour ago: due for a reminder after an hour, not before; pending by age and batch."""
        book = Book()
        failing(book, "a", T0)
        failing(book, "b", T0 + timedelta(minutes=10))
        store.save_book(book, T0)
        assert store.ready_batches(T0 - timedelta(seconds=1)) == []
        assert store.ready_batches(T0) == ["contoso|53003|firing"]
        assert [p.fingerprint for p in store.pending_in(["contoso|53003|firing"])] == list(book.pending)
        (_sent,) = flush(book, T0 + timedelta(hours=1), Policy(), lambda labels, now: False)
        store.save_book(book, T0)
        assert (
            store.pending_for(list(book.incidents)) == []
            and store.ready_batches(T0 + timedelta(days=1)) == []
        )
        assert store.last_flushes(["contoso|53003|firing", "x"]) == {
            "contoso|53003|firing": T0 + timedelta(hours=1)
        }
        assert store.due_incidents(T0 + timedelta(minutes=59), T0) == []
        due = store.due_incidents(T0 + timedelta(hours=1), T0)
        assert sorted(i.id for i in due) == sorted(i.id for i in book.incidents.values())
        assert store.open_counts() == {"high": 2}

    def test_a_flush_scope_splits_the_book_by_tenant(self, store: Store) -> None:
        """Replicas divide the flush by tenant: a scope loads only its tenants' due incidents and
        batches, and the first tenant's holder also covers tenants no longer configured."""
        book = Book()
        for tenant in ("contoso", "fabrikam", "gone"):
            failing(book, "a", T0, tenant=tenant)
        store.save_book(book, T0)
        known = frozenset({"contoso", "fabrikam"})
        later = T0 + timedelta(minutes=1)

        def covered(scope: Scope | None) -> tuple[set[str], set[str]]:
            part = flush_book(store, later, Policy(), scope)
            return {i.tenant for i in part.incidents.values()}, {
                batch_tenant(p.batch) for p in part.pending.values()
            }

        assert covered(None) == ({"contoso", "fabrikam", "gone"},) * 2
        assert covered(Scope(frozenset({"fabrikam"}), known)) == ({"fabrikam"},) * 2
        assert covered(Scope(frozenset({"contoso"}), known, strays=True)) == ({"contoso", "gone"},) * 2
        (_sent, *_) = flush(book, later, Policy(), lambda labels, now: False)
        store.save_book(book, later)
        remind = T0 + timedelta(hours=5)
        assert {i.tenant for i in store.due_incidents(remind, T0, Scope(frozenset({"fabrikam"}), known))} == {
            "fabrikam"
        }
        assert {i.tenant for i in store.due_incidents(remind, T0, Scope(known, known, strays=True))} == {
            "contoso",
            "fabrikam",
            "gone",
        }

    def test_flapping_incident_is_due_when_settled(self, store: Store) -> None:
        book = Book()
        inc = failing(book, "a", T0)
        book.put(dataclasses.replace(inc, flapping=True, changes=(T0, T0 + timedelta(minutes=5))))
        store.save_book(book, T0)
        assert store.due_incidents(T0, T0 + timedelta(minutes=4)) == []
        assert [i.id for i in store.due_incidents(T0, T0 + timedelta(minutes=5))] == [inc.id]

    def test_saving_writes_only_what_changed(self, store: Store) -> None:
        """A book holding one incident saves it without erasing the others or their pending entries."""
        book = Book()
        a, b = failing(book, "a", T0), failing(book, "b", T0)
        store.save_book(book, T0)
        part = poll_book(store, [a.fingerprint], [], T0)
        assert list(part.incidents) == [a.fingerprint] and list(part.pending) == [a.fingerprint]
        failing(part, "a", T0 + timedelta(minutes=1))
        store.save_book(part, T0)
        whole = poll_book(store, [a.fingerprint, b.fingerprint], [], T0)
        assert whole.incidents[a.fingerprint].count == 2 and whole.incidents[b.fingerprint] == b
        assert set(whole.pending) == {a.fingerprint, b.fingerprint}


def test_migration_indexes_existing_incidents(tmp_path: Path) -> None:
    """A state file written before migration 3 gets its incidents indexed when it is opened."""
    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in filter(str.strip, script.split(";")):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")
    book = Book()
    inc = failing(book, "a", T0)
    told = dataclasses.replace(inc, notified="firing", last_notified_at=T0)
    db.execute(
        "INSERT INTO incidents VALUES (?, ?, 'open', '53003', 'high', 'powerbi', ?, ?, NULL, ?)",
        (inc.id, inc.fingerprint, T0.isoformat(), T0.isoformat(), incident_json(told)),
    )
    db.close()
    store = SQLiteStore(path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.open_incidents_of(["contoso/powerbi/ws1/a"]) == [told]
    assert store.due_incidents(T0, T0) == [told]
    store.close()


class TestPostgresOnly:
    """What only the shared store has: a server to reach, a schema several replicas open, claims."""

    def test_reopen_keeps_state_and_a_newer_schema_is_refused(self, postgres_url: str) -> None:
        from enricher.store.postgres import PostgresStore
        from enricher.store.postgres_schema import MIGRATIONS as PG_MIGRATIONS

        s = PostgresStore(postgres_url)
        s.set_cursor("a", {"k": "v"}, T0)
        s.close()
        again = PostgresStore(postgres_url)
        assert again.get_cursor("a") == {"k": "v"} and again.schema_version == len(PG_MIGRATIONS)
        again._run("UPDATE schema_version SET version = 999")
        again.close()
        with pytest.raises(StoreError, match="newer version"):
            PostgresStore(postgres_url)

    def test_replicas_starting_together_migrate_once(self, postgres_url: str) -> None:
        """Four stores opened at the same moment on an empty database: all open, one schema."""
        from concurrent.futures import ThreadPoolExecutor

        from enricher.store.postgres import PostgresStore
        from enricher.store.postgres_schema import MIGRATIONS as PG_MIGRATIONS

        with ThreadPoolExecutor(4) as pool:
            stores = list(pool.map(lambda _: PostgresStore(postgres_url), range(4)))
        assert {s.schema_version for s in stores} == {len(PG_MIGRATIONS)}
        stores[0].set_streak("x", 2)
        assert [s.get_streak("x") for s in stores] == [2, 2, 2, 2]
        for s in stores:
            s.close()

    def test_an_unreachable_server_is_one_line_without_the_password(self) -> None:
        from enricher.store.postgres import PostgresStore
        from tests.postgres import _free_port

        url = f"postgresql://watcher:s3cret-pw@127.0.0.1:{_free_port()}/state"
        with pytest.raises(StoreError) as caught:
            PostgresStore(url, timeout=2)
        text = str(caught.value)
        assert text.startswith(
            f"cannot connect to state database 127.0.0.1:{url.split(':')[3].split('/', maxsplit=1)[0]}/state:"
        )
        assert "\n" not in text and "s3cret-pw" not in text and "watcher" not in text

    def test_a_row_is_claimed_by_one_sender(self, postgres_url: str) -> None:
        """Two stores (two replicas) race for one row: one claim wins; a dead sender's claim lapses."""
        from enricher.store.postgres import PostgresStore

        a, b = PostgresStore(postgres_url), PostgresStore(postgres_url, claim_for=timedelta(minutes=2))
        a.enqueue(notification(), ["slack"], T0)
        (row,) = b.due(T0)
        assert a.mark_sending(row.id, T0) and not b.mark_sending(row.id, T0)
        assert b.due(T0 + timedelta(minutes=1)) == []  # in flight elsewhere
        (again,) = b.due(T0 + timedelta(minutes=2))  # its sender died: taken over
        assert b.mark_sending(again.id, T0 + timedelta(minutes=2))
        b.mark_delivered(again.id, T0 + timedelta(minutes=2))
        assert not a.mark_sending(row.id, T0 + timedelta(hours=1))  # done: nobody sends it again
        a.close(), b.close()

    def test_leases_one_holder_takeover_fence_and_release(self, postgres_url: str) -> None:
        """One replica holds a lease until it lapses; the next takes it over and fences the first out."""
        from enricher.store.postgres import PostgresStore
        from enricher.store.postgres_leases import Held, LeaseLostError

        a, b = PostgresStore(postgres_url), PostgresStore(postgres_url)
        wanted = {"poll:contoso/adf": 600.0, "flush:contoso": 600.0}
        assert a.acquire("A", wanted) == [Held("flush:contoso", None), Held("poll:contoso/adf", None)]
        assert b.acquire("B", wanted) == []  # held and live: nothing for B
        assert [h.name for h in a.acquire("A", wanted)] == ["flush:contoso", "poll:contoso/adf"]  # renewed
        a.acquire("A", {"poll:contoso/adf": 0.0})  # renewed to lapse at once: A "died"
        assert b.acquire("B", wanted) == [Held("poll:contoso/adf", "A")]
        with pytest.raises(LeaseLostError, match="poll:contoso/adf"), a.transaction():
            a.set_cursor("contoso/adf", {"k": "late"}, T0)
            a.fence(["flush:contoso", "poll:contoso/adf"], "A")  # one lost: A's late work is rolled back
        assert a.get_cursor("contoso/adf") == {}
        with a.transaction():
            a.fence(["flush:contoso"], "A")
        with b.transaction():
            b.fence(["poll:contoso/adf"], "B")
        assert a.release("A") == 1 and [h.name for h in b.acquire("B", wanted)] == [
            "flush:contoso",
            "poll:contoso/adf",
        ]
        assert [(n, h) for n, h, live in b.leases() if live] == [
            ("flush:contoso", "B"),
            ("poll:contoso/adf", "B"),
        ]
        a.acquire("A", {"replica:A": 0.0}), b.acquire("B", {"replica:B": 600.0})
        assert b.forget_departed(after_seconds=0.0) == 1  # A's presence lapsed: gone; B's stays
        assert [n for n, _, _ in b.leases() if n.startswith("replica:")] == ["replica:B"]
        a.close(), b.close()


def test_postgres_reconnects_after_a_restart(tmp_path: Path) -> None:
    """The server restarts (its own cluster, so no other test notices): the next calls reconnect."""
    from enricher.store.postgres import PostgresStore
    from tests.postgres import SKIP_REASON, Cluster, available

    if not available():
        pytest.skip(SKIP_REASON)
    cluster = Cluster()
    try:
        cluster.start()
        store = PostgresStore(cluster.create("restart"))
        store.set_cursor("a", {"k": "1"}, T0)
        cluster.restart()
        store.set_cursor("a", {"k": "2"}, T0)
        with store.transaction():
            store.set_streak("x", 1)
        assert store.get_cursor("a") == {"k": "2"} and store.get_streak("x") == 1
        store.close()
    finally:
        cluster.destroy()
