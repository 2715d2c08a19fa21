"""The store contract and the plain rows it returns."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from connectors.records import RunRecord, RunStatus
from enricher.core.incidents import Book, Incident, Pending, Scope
from enricher.core.routing import Silence
from enricher.core.signin import Lookup
from enricher.notification import Notification
from enricher.store.queries import IncidentFilter, IncidentRow, Summary
from enricher.store.tallies import Tally

OutboxState = Literal["pending", "delivered", "dead"]
#: How long a resolved incident stays in the book (reopening within this keeps its history).
KEEP_RESOLVED_DAYS = 7


@dataclass(frozen=True)
class OutboxRow:
    id: int
    notification: Notification
    sink: str
    attempts: int
    created_at: datetime
    next_at: datetime
    state: OutboxState = "pending"
    last_error: str = ""
    #: When the last attempt started, if its outcome was never recorded (a crash mid-send): this
    #: row may already have reached the destination, and is re-sent with the same idempotency key.
    sending_at: datetime | None = None
    #: When it was delivered or given up on (None while pending): the incident page's timeline.
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Backlog:
    """One sink's waiting rows: how many, since when the oldest waits, when the next try is due."""

    depth: int
    oldest: datetime
    next_at: datetime


@dataclass(frozen=True)
class Event:
    incident_id: str
    at: datetime
    kind: str
    detail: str


def run_key(record: RunRecord) -> str:
    return f"{record.item_key}|{record.run_id}"


def worth_processing(record: RunRecord) -> bool:
    """Runs still going are looked at again later; only finished ones are taken."""
    return record.status is not RunStatus.RUNNING


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...

    # cursors and seen runs
    def get_cursor(self, source: str) -> dict[str, str]: ...
    def set_cursor(self, source: str, cursor: Mapping[str, str], now: datetime) -> None: ...
    def take_unseen(self, records: Sequence[RunRecord], now: datetime) -> list[RunRecord]: ...
    def prune_seen(self, before: datetime) -> int: ...

    # Power BI schedule streaks (consecutive failed scheduled refreshes)
    def get_streak(self, item_key: str) -> int: ...
    def set_streak(self, item_key: str, count: int) -> None: ...

    # incidents: a step loads only the rows it may change (enricher.store.books composes them)
    def current_incidents(self, fingerprints: Collection[str], since: datetime) -> list[Incident]:
        """Per fingerprint, its incident if open or resolved at or after ``since``; oldest first."""
        ...

    def open_incidents_of(self, item_keys: Collection[str]) -> list[Incident]:
        """Open incidents listing any of ``item_keys``, oldest first."""
        ...

    def due_incidents(
        self, remind_before: datetime, settle_before: datetime, scope: Scope | None = None
    ) -> list[Incident]:
        """Open incidents last told "firing" at or before ``remind_before`` (not flapping), and
        flapping ones whose last change is at or before ``settle_before``; oldest first; only
        those of tenants ``scope`` covers, when given."""
        ...

    def pending_for(self, fingerprints: Collection[str]) -> list[Pending]: ...
    def ready_batches(self, created_before: datetime) -> list[str]:
        """Batches holding a pending notification created at or before ``created_before``."""
        ...

    def pending_in(self, batches: Collection[str]) -> list[Pending]: ...
    def last_flushes(self, batches: Collection[str]) -> dict[str, datetime]: ...
    def save_book(self, book: Book, now: datetime) -> None:
        """Write the book's touched incidents, requeued pending entries and batch times."""
        ...

    def open_counts(self) -> dict[str, int]:
        """Open incidents per severity."""
        ...

    def incidents(
        self, *, state: str | None = None, since: datetime | None = None, limit: int = 500
    ) -> list[Incident]: ...
    def count_incidents(self, f: IncidentFilter) -> dict[str, int]:
        """Incidents matching ``f`` per state."""
        ...

    def list_incidents(
        self,
        f: IncidentFilter,
        *,
        state: str | None = None,
        limit: int = 200,
        offset: int = 0,
        sort: str = "severity",
    ) -> list[Incident]:
        """``limit`` incidents matching ``f`` (and ``state``) from ``offset`` on, in the order
        ``queries.sort_key(sort)`` says (``severity``: ``list_key``)."""
        ...

    def summary(self, f: IncidentFilter, since: datetime) -> Summary:
        """Open incidents matching ``f`` per severity, and how many of those matching ``f`` first
        failed or were resolved at or after ``since``."""
        ...

    def incident_rows(self, f: IncidentFilter) -> list[IncidentRow]: ...
    def failure_events(self, f: IncidentFilter) -> dict[str, list[datetime]]:
        """Incident id -> when each of its failures was recorded, for the incidents matching ``f``."""
        ...

    def stat_tally(self, f: IncidentFilter, end: datetime) -> tuple[Tally, list[float]]:
        """The dashboard's numbers (``enricher.store.tallies``) of the incidents matching ``f``, with
        failures counted from ``f.since`` to ``end``, and the resolve times of those resolved."""
        ...

    def events(self, incident_id: str) -> list[Event]: ...
    def add_event(self, incident_id: str, at: datetime, kind: str, detail: str = "") -> None: ...
    def add_events(self, events: Sequence[Event]) -> None:
        """``add_event`` for each, in order (a poll records one per run: one statement for all)."""
        ...

    # silences
    def add_silence(self, silence: Silence) -> None: ...
    def silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]: ...
    def expire_silence(self, silence_id: str, now: datetime) -> bool: ...

    # outbox
    def enqueue(self, notification: Notification, sinks: Sequence[str], now: datetime) -> int: ...
    def due(self, now: datetime, limit: int = 200, *, sink: str | None = None) -> list[OutboxRow]: ...
    def mark_sending(self, row_id: int, now: datetime) -> bool:
        """Record that an attempt starts; False when the row is not this caller's to send (a
        shared store: another replica is sending it or has finished it)."""
        ...

    def defer_sink(self, sink: str, until: datetime) -> int: ...
    def mark_delivered(self, row_id: int, now: datetime, detail: str = "") -> None: ...
    def mark_retry(self, row_id: int, next_at: datetime, error: str) -> None: ...
    def mark_dead(self, row_id: int, now: datetime, error: str) -> None: ...
    def outbox(self, *, state: OutboxState | None = None, limit: int = 1000) -> list[OutboxRow]: ...
    def outbox_of(self, incident_id: str) -> list[OutboxRow]:
        """The outbox rows of the notifications an incident led (its page shows what each sink
        did with them), oldest first."""
        ...

    def outbox_depth(self) -> dict[str, int]: ...
    def backlog(self) -> dict[str, Backlog]: ...

    # sign-in look-ups (enricher.core.signin): one per incident, ever
    def queue_lookup(self, lookup: Lookup) -> bool: ...
    def due_lookups(self, tenant: str, now: datetime, limit: int = 100) -> list[Lookup]: ...
    def save_lookup(self, lookup: Lookup, state: Literal["waiting", "found", "expired"]) -> None: ...
    def lookup_state(self, incident_id: str) -> str | None: ...

    # heartbeat
    def beat(self, name: str, now: datetime, detail: str = "") -> None: ...
    def last_beat(self, name: str) -> tuple[datetime, str] | None: ...


def iter_due(rows: Sequence[OutboxRow]) -> Iterator[OutboxRow]:
    """Only the oldest pending row of each (sink, incident): notifications arrive in order per incident."""
    seen: set[tuple[str, str]] = set()
    for row in sorted(rows, key=lambda r: r.id):
        key = (row.sink, row.notification.incident_id)
        if key not in seen:
            seen.add(key)
            yield row
