"""This replica's share of the work when several share one PostgreSQL store.

Every replica runs the full schedule; a job runs here only while this replica holds its lease
(``enricher.store.postgres_leases``): ``poll:TENANT/SOURCE`` per source job and
``flush:TENANT`` per tenant for that tenant's incident decisions (reminders, batching, routing
into the outbox), its credential forecast and its sign-in look-ups. A replica's flush covers the
tenants whose flush lease it holds (``scope``), in one transaction fenced by each of them; a batch
never spans tenants, so no notification is decided on two replicas. The holder of the first
tenant's flush lease also covers tenants no longer configured, whose queued notifications must
still go out. Delivery needs no lease: each outbox row is claimed on its own.

``keep`` runs every ``step`` seconds (a quarter of the shortest poll interval, 1 to 30 s). Each
replica also holds a presence lease, ``replica:HOLDER``, so every replica can count the live
ones and take its fair share of the jobs: ``ceil(jobs / replicas)``. Below its share it takes
free or expired leases; above it (a replica joined) it releases the excess, which the newcomer
takes at its next step. Renewing and taking is one statement. A source's lease lives one poll
interval, so when a replica dies its presence and its sources lapse together and the survivors'
shares grow: its sources are taken within one interval and two steps, and each job runs at once
on its new holder (``on_gained``), under the 2 x interval the issue sets. A clean stop releases
every lease at once. A replica's first step only announces it, so replicas started together
share the jobs from their first poll on (a lone replica starts polling one step later).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from enricher.core.incidents import Scope
from enricher.errors import StoreError
from enricher.metrics import Metrics
from enricher.store.postgres_leases import Held
from enricher.wiring.build import SourceJob

log = logging.getLogger("aadsts_enricher.replicas")

#: Who this process is, in the leases table (stays the same across reloads of the config).
HOLDER = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:6]}"
FLUSH = "flush:"


@runtime_checkable
class LeaseStore(Protocol):
    """What a store shared by replicas offers (``PostgresStore``); SQLite has one daemon, no leases."""

    def acquire(self, holder: str, wanted: dict[str, float]) -> list[Held]: ...
    def release(self, holder: str, names: Sequence[str] | None = None) -> int: ...
    def leases(self) -> list[tuple[str, str, bool]]: ...
    def forget_departed(self, after_seconds: float = 3600.0) -> int: ...
    def fence(self, names: Sequence[str], holder: str) -> None: ...


def poll_lease(job: SourceJob) -> str:
    return f"poll:{job.name}"


def flush_lease(tenant: str) -> str:
    return f"{FLUSH}{tenant}"


def _by_tenant(lease: str) -> tuple[str, str]:
    """Leases in tenant order, so a share keeps a tenant's polls and its flush together where it
    can (and every replica's share holds some flushing, not one replica all of it)."""
    return lease.partition(":")[2].partition("/")[0], lease


class Replicas:
    def __init__(
        self, store: LeaseStore, jobs: Sequence[SourceJob], metrics: Metrics, holder: str = HOLDER
    ) -> None:
        self.store = store
        self.holder = holder
        self.metrics = metrics
        shortest = min((j.interval.total_seconds() for j in jobs), default=60.0)
        self.tenants = sorted({j.tenant for j in jobs})
        flushes = {flush_lease(t): shortest for t in self.tenants}
        self.wanted = {poll_lease(j): j.interval.total_seconds() for j in jobs} | flushes
        self.presence = f"replica:{holder}"
        self._announced = False
        self.shortest = shortest
        self.step = min(30.0, max(1.0, shortest / 4))
        self.held: frozenset[str] = frozenset()
        #: called with each lease this replica just gained (the daemon runs that job at once)
        self.on_gained: Callable[[str], None] = lambda name: None
        metrics.set("aadsts_enricher_leases_held", None, 0.0)

    def holds(self, name: str) -> bool:
        return name in self.held

    def fence(self, names: Sequence[str]) -> None:
        self.store.fence(names, self.holder)

    def scope(self) -> Scope | None:
        """The tenants this replica's flush decides for; None when it holds no flush lease."""
        mine = frozenset(t for t in self.tenants if flush_lease(t) in self.held)
        if not mine:
            return None
        return Scope(mine, frozenset(self.tenants), strays=self.tenants[0] in mine)

    def keep(self) -> None:
        """Renew and take leases; a database that cannot be reached means holding nothing."""
        try:
            got = self.store.acquire(self.holder, self._claim())
        except StoreError as exc:
            if self.held:
                log.warning("leases not renewed; pausing this replica's jobs", extra={"problem": str(exc)})
            self._set(frozenset())
            return
        for h in got:
            if h.taken_from is not None:
                self.metrics.inc("aadsts_enricher_lease_takeovers_total", {"lease": h.name})
                log.info("lease taken over", extra={"lease": h.name, "from": h.taken_from})
        gained = self._set(frozenset(h.name for h in got if h.name != self.presence))
        for name in sorted(gained):
            self.on_gained(name)

    def _claim(self) -> dict[str, float]:
        """The leases to renew or take this step: ours up to our share, then free ones up to it."""
        if not self._announced:  # the first step only says "here I am", so replicas started
            self._announced = True  # together count each other before anyone takes every job
            self.store.forget_departed()
            return {self.presence: self.shortest}
        table = self.store.leases()
        replicas = {n for n, _, live in table if live and n.startswith("replica:")} | {self.presence}
        share = math.ceil(len(self.wanted) / len(replicas))
        others = {n for n, h, live in table if live and h != self.holder}
        mine = sorted(
            (n for n, h, live in table if live and h == self.holder and n in self.wanted), key=_by_tenant
        )
        if len(mine) > share:  # a replica joined: hand the excess over
            self.store.release(self.holder, mine[share:])
            mine = mine[:share]
        free = [n for n in sorted(self.wanted, key=_by_tenant) if n not in others and n not in mine]
        chosen = mine + free[: max(0, share - len(mine))]
        return {n: self.wanted[n] for n in chosen} | {self.presence: self.shortest}

    def release(self) -> None:
        try:
            self.store.release(self.holder)
        except StoreError as exc:  # they expire on their own
            log.warning("leases not released", extra={"problem": str(exc)})
        self._set(frozenset())

    def _set(self, held: frozenset[str]) -> frozenset[str]:
        gained = held - self.held
        self.held = held
        self.metrics.set("aadsts_enricher_leases_held", None, float(len(held)))
        return gained

    def detail(self) -> dict[str, object]:
        """What ``/readyz`` adds: this replica and the leases it holds."""
        return {"replica": self.holder, "leases": sorted(self.held)}
