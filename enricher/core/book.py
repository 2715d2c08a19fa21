"""The incident book's vocabulary: the policy, an incident, a pending notification, and the book
that holds the incidents and pending notifications one poll or flush works on (the lifecycle
functions that change them are ``enricher.core.incidents``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from enricher.notification import ItemRef, Kind

State = Literal["open", "resolved"]
SCHEDULE_LIMIT = 4  # Power BI disables a refresh schedule after this many consecutive failures


@dataclass(frozen=True)
class Policy:
    group_by: tuple[str, ...] = ("tenant", "source", "item", "code")
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    flap_changes: int = 4
    flap_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Scope:
    """The tenants one flush decides for. Replicas sharing a store divide the flush by tenant
    (one lease each, ``enricher.wiring.replicas``); a replica's scope is the tenants it holds, and
    the holder of the first configured tenant also covers ``strays``: incidents of a tenant no
    longer configured, whose pending notifications must still go out. ``None`` instead of a scope
    means every tenant (one daemon)."""

    tenants: frozenset[str]
    #: every configured tenant (what is not in it is a stray)
    known: frozenset[str] = frozenset()
    strays: bool = False

    def covers(self, tenant: str) -> bool:
        return tenant in self.tenants or (self.strays and tenant not in self.known)


@dataclass(frozen=True)
class Incident:
    """One occurrence of a problem. ``fingerprint`` names the problem (what ``group_by`` picks out);
    ``id`` names this occurrence (a problem that comes back after it was archived is a new incident,
    with a new PagerDuty alert and a new e-mail thread)."""

    id: str
    fingerprint: str
    state: State
    code: str
    severity: str
    tenant: str
    source: str
    items: tuple[ItemRef, ...]
    item_keys: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    last_failure_at: datetime
    count: int
    content: dict[str, Any]
    labels: dict[str, str]
    resolved_at: datetime | None = None
    notified: Literal["none", "firing", "resolved", "flapping"] = "none"
    last_notified_at: datetime | None = None
    seq: int = 0
    changes: tuple[datetime, ...] = ()
    flapping: bool = False
    #: the cause the knowledge base groups this code by (``grouping.RootCause.as_dict``), if known
    root_cause: dict[str, str] | None = None
    #: a child: the id of the parent incident that speaks for it (its own notifications are inhibited)
    parent: str | None = None
    #: a parent: how many items it adopted; ``item_keys`` are the children still failing
    children: int = 0
    #: a parent: (item name, when) of children that recovered, latest last
    recovered: tuple[tuple[str, str], ...] = ()
    #: the sign-in event behind the failure, once found in the sign-in log (``Notification.signin``)
    signin: dict[str, Any] | None = None


@dataclass(frozen=True)
class Pending:
    fingerprint: str
    kind: Kind
    batch: str
    created_at: datetime


@dataclass
class Book:
    """The part of the incident book a step works on: the store loads only what the step can touch
    (the incidents of the runs just read, the incidents due for a reminder, the pending batches that
    are old enough), and saves only what changed: ``touched`` incidents and the pending entries of
    ``requeued`` fingerprints. ``open_items`` (item key -> fingerprints of open incidents listing it)
    lets a success find its incidents without scanning the book."""

    incidents: dict[str, Incident] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    last_flush: dict[str, datetime] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    requeued: set[str] = field(default_factory=set)
    open_items: dict[str, dict[str, None]] = field(default_factory=dict)
    before: dict[str, Incident | None] = field(default_factory=dict)  # touched ones as loaded

    @classmethod
    def of(
        cls,
        incidents: Iterable[Incident],
        pending: Iterable[Pending] = (),
        last_flush: Mapping[str, datetime] | None = None,
    ) -> Book:
        """A book of stored rows (incidents oldest first: a later one of a fingerprint wins)."""
        book = cls(pending={p.fingerprint: p for p in pending}, last_flush=dict(last_flush or {}))
        for inc in incidents:
            book._index(inc)
        return book

    def put(self, inc: Incident) -> None:
        if inc.fingerprint not in self.before:
            self.before[inc.fingerprint] = self.incidents.get(inc.fingerprint)
        self._index(inc)
        self.touched.add(inc.fingerprint)

    def know(self, inc: Incident) -> None:
        """Add an incident read after the book was loaded; as loaded, it is no change to save."""
        if inc.fingerprint not in self.incidents:
            self._index(inc)

    def open_change(self) -> dict[str, int]:
        """How the number of open incidents per severity changed since the book was loaded."""
        change: dict[str, int] = {}
        for fp, old in self.before.items():
            new = self.incidents[fp]
            for inc, step in ((old, -1), (new, 1)):
                if inc is not None and inc.state == "open":
                    change[inc.severity] = change.get(inc.severity, 0) + step
        return change

    def queue(self, p: Pending) -> None:
        """Replace the fingerprint's pending notification (it moves to the end of the queue)."""
        self.pending.pop(p.fingerprint, None)
        self.pending[p.fingerprint] = p
        self.requeued.add(p.fingerprint)

    def unqueue(self, fingerprint: str) -> Pending | None:
        self.requeued.add(fingerprint)
        return self.pending.pop(fingerprint, None)

    def _index(self, inc: Incident) -> None:
        old = self.incidents.get(inc.fingerprint)
        if old is not None:
            for key in old.item_keys:
                self.open_items.get(key, {}).pop(old.fingerprint, None)
        self.incidents[inc.fingerprint] = inc
        if inc.state == "open":
            for key in inc.item_keys:
                self.open_items.setdefault(key, {})[inc.fingerprint] = None
