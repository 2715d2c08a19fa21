"""The in-memory fake of the store, for tests: same contract as SQLiteStore, nothing on disk.

``transaction()`` snapshots the state and restores it if the block raises, which is what the
pipeline relies on ("all of a cycle or nothing").
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from connectors.records import RunRecord
from enricher.core.incidents import Book, Incident, Pending, Scope
from enricher.core.routing import Silence
from enricher.core.signin import Lookup
from enricher.notification import Notification
from enricher.store.base import (
    Backlog,
    Event,
    OutboxRow,
    OutboxState,
    iter_due,
    run_key,
    worth_processing,
)
from enricher.store.queries import (
    IncidentFilter,
    IncidentRow,
    Summary,
    matches,
    row_of,
    severity_of,
    sort_key,
)
from enricher.store.sqlite_signins import LookupState
from enricher.store.tallies import Tally, exact_tally


@dataclass
class _State:
    cursors: dict[str, dict[str, str]] = field(default_factory=dict)
    seen: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    streaks: dict[str, int] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    pending: dict[str, Pending] = field(default_factory=dict)
    last_flush: dict[str, datetime] = field(default_factory=dict)
    silences: dict[str, Silence] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)
    beats: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    next_id: int = 1
    lookups: dict[str, tuple[Lookup, LookupState]] = field(default_factory=dict)


class MemoryStore:
    def __init__(self) -> None:
        self._s = _State()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            snapshot = copy.deepcopy(self._s)
            try:
                yield
            except BaseException:
                self._s = snapshot
                raise

    def close(self) -> None:
        pass

    # sign-in look-ups
    def queue_lookup(self, lookup: Lookup) -> bool:
        if lookup.incident_id in self._s.lookups:
            return False
        self._s.lookups[lookup.incident_id] = (lookup, "waiting")
        return True

    def due_lookups(self, tenant: str, now: datetime, limit: int = 100) -> list[Lookup]:
        due = [
            lk
            for lk, state in self._s.lookups.values()
            if state == "waiting" and lk.tenant == tenant and lk.next_at <= now
        ]
        return sorted(due, key=lambda lk: lk.next_at)[:limit]

    def save_lookup(self, lookup: Lookup, state: LookupState) -> None:
        self._s.lookups[lookup.incident_id] = (lookup, state)

    def lookup_state(self, incident_id: str) -> LookupState | None:
        found = self._s.lookups.get(incident_id)
        return found[1] if found else None

    def get_cursor(self, source: str) -> dict[str, str]:
        return dict(self._s.cursors.get(source, {}))

    def set_cursor(self, source: str, cursor: Mapping[str, str], now: datetime) -> None:
        self._s.cursors[source] = dict(cursor)

    def take_unseen(self, records: Sequence[RunRecord], now: datetime) -> list[RunRecord]:
        out: dict[str, RunRecord] = {}
        for r in records:
            key = run_key(r)
            if not worth_processing(r):
                continue
            seen = self._s.seen.get(key)
            if seen and seen[0] == r.status.value:
                continue
            self._s.seen[key] = (r.status.value, now)
            out[key] = r
        return list(out.values())

    def prune_seen(self, before: datetime) -> int:
        old = [k for k, (_, at) in self._s.seen.items() if at < before]
        for k in old:
            del self._s.seen[k]
        return len(old)

    def get_streak(self, item_key: str) -> int:
        return self._s.streaks.get(item_key, 0)

    def set_streak(self, item_key: str, count: int) -> None:
        self._s.streaks[item_key] = count

    def current_incidents(self, fingerprints: Collection[str], since: datetime) -> list[Incident]:
        wanted = set(fingerprints)
        return _oldest_first(
            i
            for i in self._s.incidents.values()
            if i.fingerprint in wanted and (i.state == "open" or (i.resolved_at and i.resolved_at >= since))
        )

    def open_incidents_of(self, item_keys: Collection[str]) -> list[Incident]:
        wanted = set(item_keys)
        return _oldest_first(
            i for i in self._s.incidents.values() if i.state == "open" and wanted.intersection(i.item_keys)
        )

    def due_incidents(
        self, remind_before: datetime, settle_before: datetime, scope: Scope | None = None
    ) -> list[Incident]:
        def due(i: Incident) -> bool:
            if scope is not None and not scope.covers(i.tenant):
                return False
            if i.flapping:
                return not i.changes or i.changes[-1] <= settle_before
            told = i.last_notified_at
            return i.state == "open" and i.notified == "firing" and told is not None and told <= remind_before

        return _oldest_first(filter(due, self._s.incidents.values()))

    def pending_for(self, fingerprints: Collection[str]) -> list[Pending]:
        return [p for fp, p in self._s.pending.items() if fp in fingerprints]

    def ready_batches(self, created_before: datetime) -> list[str]:
        return list(
            dict.fromkeys(p.batch for p in self._s.pending.values() if p.created_at <= created_before)
        )

    def pending_in(self, batches: Collection[str]) -> list[Pending]:
        return sorted((p for p in self._s.pending.values() if p.batch in batches), key=lambda p: p.created_at)

    def last_flushes(self, batches: Collection[str]) -> dict[str, datetime]:
        return {b: at for b, at in self._s.last_flush.items() if b in batches}

    def save_book(self, book: Book, now: datetime) -> None:
        for fp in book.touched:
            inc = book.incidents[fp]
            self._s.incidents[inc.id] = inc
        for fp in book.requeued:
            self._s.pending.pop(fp, None)
        self._s.pending.update((fp, p) for fp, p in book.pending.items() if fp in book.requeued)
        self._s.last_flush.update(book.last_flush)
        book.touched.clear()
        book.requeued.clear()

    def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for i in self._s.incidents.values():
            if i.state == "open":
                counts[i.severity] = counts.get(i.severity, 0) + 1
        return counts

    def incidents(
        self, *, state: str | None = None, since: datetime | None = None, limit: int = 500
    ) -> list[Incident]:
        found = [
            i
            for i in self._s.incidents.values()
            if (state is None or i.state == state) and (since is None or i.last_seen >= since)
        ]
        return sorted(found, key=lambda i: i.last_seen, reverse=True)[:limit]

    def count_incidents(self, f: IncidentFilter) -> dict[str, int]:
        counts: dict[str, int] = {}
        for i in self._s.incidents.values():
            if matches(i, f):
                counts[i.state] = counts.get(i.state, 0) + 1
        return counts

    def list_incidents(
        self,
        f: IncidentFilter,
        *,
        state: str | None = None,
        limit: int = 200,
        offset: int = 0,
        sort: str = "severity",
    ) -> list[Incident]:
        found = [i for i in self._s.incidents.values() if matches(i, f) and state in (None, i.state)]
        return sorted(found, key=sort_key(sort))[offset : offset + limit]

    def summary(self, f: IncidentFilter, since: datetime) -> Summary:
        by_severity: dict[str, int] = {}
        new = resolved = 0
        for i in self._s.incidents.values():
            if matches(i, f):
                if i.state == "open":
                    by_severity[severity_of(i)] = by_severity.get(severity_of(i), 0) + 1
                new += i.first_seen >= since
                resolved += i.resolved_at is not None and i.resolved_at >= since
        return Summary(by_severity, new, resolved)

    def incident_rows(self, f: IncidentFilter) -> list[IncidentRow]:
        return [row_of(i) for i in self._s.incidents.values() if matches(i, f)]

    def failure_events(self, f: IncidentFilter) -> dict[str, list[datetime]]:
        wanted = {i.id for i in self._s.incidents.values() if matches(i, f)}
        found: dict[str, list[datetime]] = {}
        for e in self._s.events:
            if e.kind == "failure" and e.incident_id in wanted:
                found.setdefault(e.incident_id, []).append(e.at)
        return found

    def stat_tally(self, f: IncidentFilter, end: datetime) -> tuple[Tally, list[float]]:
        return exact_tally(self.incident_rows(f), self.failure_events(f), f.since, end)

    def events(self, incident_id: str) -> list[Event]:
        return [e for e in self._s.events if e.incident_id == incident_id]

    def add_event(self, incident_id: str, at: datetime, kind: str, detail: str = "") -> None:
        self._s.events.append(Event(incident_id, at, kind, detail))

    def add_events(self, events: Sequence[Event]) -> None:
        self._s.events.extend(events)

    def add_silence(self, silence: Silence) -> None:
        self._s.silences[silence.id] = silence

    def silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        found = sorted(self._s.silences.values(), key=lambda s: s.ends_at)
        return found if include_expired else [s for s in found if s.active(now)]

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        s = self._s.silences.get(silence_id)
        if s is None:
            return False
        self._s.silences[silence_id] = dataclasses.replace(s, ends_at=min(s.ends_at, now))
        return True

    def enqueue(self, notification: Notification, sinks: Sequence[str], now: datetime) -> int:
        added = 0
        for sink in sinks:
            if (notification.id, sink) in self._s.keys:
                continue
            self._s.keys.add((notification.id, sink))
            row_id = self._s.next_id
            self._s.next_id += 1
            self._s.outbox[row_id] = OutboxRow(row_id, notification, sink, 0, now, now)
            added += 1
        return added

    def due(self, now: datetime, limit: int = 200, *, sink: str | None = None) -> list[OutboxRow]:
        pending = [r for r in self._s.outbox.values() if r.state == "pending" and sink in (None, r.sink)]
        return [r for r in iter_due(pending) if r.next_at <= now][:limit]

    def mark_sending(self, row_id: int, now: datetime) -> bool:
        self._s.outbox[row_id] = dataclasses.replace(self._s.outbox[row_id], sending_at=now)
        return True

    def defer_sink(self, sink: str, until: datetime) -> int:
        moved = [
            r
            for r in self._s.outbox.values()
            if r.sink == sink and r.state == "pending" and r.next_at < until
        ]
        for r in moved:
            self._s.outbox[r.id] = dataclasses.replace(r, next_at=until)
        return len(moved)

    def _update(self, row_id: int, **changes: object) -> None:
        row = self._s.outbox[row_id]
        changes.update(attempts=row.attempts + 1, sending_at=None)
        self._s.outbox[row_id] = dataclasses.replace(row, **changes)  # type: ignore[arg-type]

    def mark_delivered(self, row_id: int, now: datetime, detail: str = "") -> None:
        self._update(row_id, state="delivered", last_error=detail, finished_at=now)

    def mark_retry(self, row_id: int, next_at: datetime, error: str) -> None:
        self._update(row_id, next_at=next_at, last_error=error)

    def mark_dead(self, row_id: int, now: datetime, error: str) -> None:
        self._update(row_id, state="dead", last_error=error, finished_at=now)

    def outbox(self, *, state: OutboxState | None = None, limit: int = 1000) -> list[OutboxRow]:
        return [r for r in self._s.outbox.values() if state is None or r.state == state][:limit]

    def outbox_of(self, incident_id: str) -> list[OutboxRow]:
        return [r for r in self._s.outbox.values() if r.notification.incident_id == incident_id]

    def outbox_depth(self) -> dict[str, int]:
        return {sink: b.depth for sink, b in self.backlog().items()}

    def backlog(self) -> dict[str, Backlog]:
        found: dict[str, Backlog] = {}
        for r in self._s.outbox.values():
            if r.state == "pending":
                b = found.get(r.sink) or Backlog(0, r.created_at, r.next_at)
                found[r.sink] = Backlog(b.depth + 1, min(b.oldest, r.created_at), min(b.next_at, r.next_at))
        return found

    def beat(self, name: str, now: datetime, detail: str = "") -> None:
        self._s.beats[name] = (now, detail)

    def last_beat(self, name: str) -> tuple[datetime, str] | None:
        return self._s.beats.get(name)


def _oldest_first(incidents: Iterable[Incident]) -> list[Incident]:
    return sorted(incidents, key=lambda i: (i.first_seen, i.id))
