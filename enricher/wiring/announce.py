"""The deciding half of a cycle: what the book says is due goes into the outbox, routed.

A flush (every ``delivery.interval``) loads what is due (reminders, flapping that settled,
batches whose ``group_wait`` passed: ``store.books.flush_book``), lets the pure core decide the
notifications (``core.incidents.flush``: batching, silences, maintenance, inhibition), routes
each to its sinks and writes it to the outbox, all in one transaction fenced by this replica's
flush leases. The credential forecast queues its warnings through the same routing. The sinks'
workers deliver from the outbox (``wiring.delivery``); the polling half is ``wiring.pipeline``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

from enricher import config as cfg
from enricher.core.incidents import Policy, Scope, flush, tick
from enricher.core.inhibition import inhibiting, is_source
from enricher.core.routing import Silence, muted, route
from enricher.core.routing_trace import config_silences
from enricher.core.wording import counted
from enricher.metrics import Metrics
from enricher.models import Link
from enricher.notification import Notification
from enricher.store import Store
from enricher.store.base import Event
from enricher.store.books import flush_book
from enricher.wiring.expiry import CredentialWatch, check
from enricher.wiring.replicas import flush_lease

#: Open incidents read per flush to find inhibition sources (the newest first, when there are more).
MAX_INHIBITORS_READ = 100_000


class Announcer:
    def __init__(
        self,
        config: cfg.Config,
        store: Store,
        policy: Policy,
        metrics: Metrics,
        sink_filter: Callable[[str, Notification], bool],
        watches: Sequence[CredentialWatch],
        fence: Callable[[Sequence[str]], None],
    ) -> None:
        self.config = config
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.sink_filter = sink_filter
        self.watches = watches
        self.fence = fence
        self.config_silences = config_silences(config)
        self._expiry_series: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

    def watch_credentials(self, now: datetime, scope: Scope | None = None) -> list[Notification]:
        def enqueue(n: Notification) -> None:
            """A warning silenced, in maintenance or inhibited goes to no sink: it is not held as
            an incident's notification is; the next window warns again."""
            silences = self._silences(now)
            rules = self.config.inhibit_rules

            def held(labels: Mapping[str, str]) -> bool:
                if muted(labels, now, silences, self.config.maintenance):
                    return True
                return bool(rules) and inhibiting(labels, self._inhibitors(), rules) is not None

            self._enqueue([n], now, held)

        found: list[Notification] = []
        for watch in self.watches:
            if scope is None or scope.covers(watch.tenant):
                found += check(watch, self.store, self.metrics, now, enqueue, self._expiry_series)
        return found

    def flush(self, now: datetime, *, wait: bool = True, scope: Scope | None = None) -> list[Notification]:
        with self.store.transaction():
            if scope is not None:
                self.fence([flush_lease(t) for t in sorted(scope.tenants)])
            book = flush_book(self.store, now, self.policy, scope)
            tick(book, now, self.policy)
            silences = self._silences(now)
            rules = self.config.inhibit_rules
            sources: list[Mapping[str, str]] | None = None

            def is_muted(labels: Mapping[str, str], at: datetime) -> bool:
                nonlocal sources
                if muted(labels, at, silences, self.config.maintenance):
                    return True
                if not rules:
                    return False
                if sources is None:  # read once per flush, and only when something is due
                    sources = self._inhibitors()
                return inhibiting(labels, sources, rules) is not None

            # a one-off cycle (``once``) cannot come back later to send what waits for its group
            policy = (
                self.policy
                if wait
                else dataclasses.replace(self.policy, group_wait=timedelta(0), group_interval=timedelta(0))
            )
            notifications = [self._linked(n) for n in flush(book, now, policy, is_muted)]
            self._enqueue(notifications, now)
            self.store.save_book(book, now)
        return notifications

    def _enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        muted_now: Callable[[Mapping[str, str]], bool] = lambda labels: False,
    ) -> None:
        """Each notification into the outbox for the sinks its routes name (none while muted),
        and a ``notify:KIND`` event on its incident saying which; the events in one statement."""
        events = []
        for n in notifications:
            sinks = [
                s
                for s in route(n.labels, self.config.routes, self.config.fallback_sinks)
                if self.sink_filter(s, n)
            ]
            if muted_now(n.labels):
                sinks = []
            self.store.enqueue(n, sinks, now)
            events.append(Event(n.incident_id, now, f"notify:{n.kind}", ", ".join(sinks)))
        if events:
            self.store.add_events(events)

    def _silences(self, now: datetime) -> list[Silence]:
        return [*self.config_silences, *self.store.silences(now)]

    def _linked(self, n: Notification) -> Notification:
        """With ``health.external_url`` set, a link to the incident's page: where a parent's
        notification, which names up to 20 of its items, points for all of them."""
        base = self.config.health.external_url
        if not base:
            return n
        label = f"All {counted(n.children, 'item')}" if n.children else "Incident page"
        link = Link(label, f"{base}/incidents/{quote(n.incident_id, safe='')}")
        return dataclasses.replace(n, links=(*n.links, link))

    def _inhibitors(self) -> list[Mapping[str, str]]:
        """The labels of the open incidents that match the source side of an inhibition rule."""
        rules = self.config.inhibit_rules
        found = self.store.incidents(state="open", limit=MAX_INHIBITORS_READ)
        return [i.labels for i in found if is_source(i.labels, rules)]
