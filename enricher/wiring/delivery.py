"""Durable delivery: the outbox, drained per sink with backoff, rate limits and a dead letter.

Each (notification, sink) pair is an outbox row before anything is sent. Each sink has its own
worker thread (``start``), so a slow or hung destination holds up only its own rows, within its
own timeout; the flush that writes rows never waits for any of them (it only ``wake``s them).
Rows of one sink go out in row order, which keeps the notifications of one incident in order.

Every destination (a webhook URL, a PagerDuty routing key) has one :class:`~enricher.wiring.gate.Gate`
shared by all sinks that send to it: a 429 or 503 with Retry-After pauses the destination, not
just the row (every row for it waits, and the pause is written to the outbox so a restart keeps
it), and sends are spaced to the destination's rate. A retryable failure waits
``min(max_delay, base * 2^attempts)`` with jitter, never less than Retry-After; a permanent
failure, or a row older than ``max_age``, goes to the dead letter with a log line and a metric.

The guarantee is at-least-once: the attempt is recorded (``mark_sending``, committed) before the
request leaves, and its outcome after the answer. A crash between the two leaves the row marked;
after a restart that row, and only that kind of row, is sent again with the same idempotency key.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from enricher.config import DeliveryConfig
from enricher.errors import StoreError
from enricher.metrics import LabelKey, Metrics
from enricher.sinks.base import DeliveryResult, Sink
from enricher.store import OutboxRow, Store
from enricher.wiring.gate import Gate, destination_of

log = logging.getLogger("aadsts_enricher.delivery")


def next_attempt(
    attempts: int, retry_after: float | None, policy: DeliveryConfig, rng: random.Random
) -> timedelta:
    """Pure: the wait before the next attempt of a row that failed ``attempts`` times so far."""
    ceiling = min(policy.max_delay.total_seconds(), policy.base_delay.total_seconds() * 2**attempts)
    wait = rng.uniform(ceiling / 2, ceiling)
    return timedelta(seconds=max(wait, retry_after or 0.0))


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    by_sink: dict[str, int] = field(default_factory=dict)

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        for sink, n in other.by_sink.items():
            self.by_sink[sink] = self.by_sink.get(sink, 0) + n


class Deliverer:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        policy: DeliveryConfig,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.policy = policy
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.stop = stop or threading.Event()
        self._rng = random.Random(seed)
        shared: dict[str, Gate] = {}  # by destination
        self._gates = {
            name: shared.setdefault(destination_of(s), Gate(s.rate)) for name, s in self.sinks.items()
        }
        self._wake: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    # -- one pass, for `once`, the demo and tests ---------------------------------------------

    def deliver_due(self, limit: int = 5000) -> DeliveryReport:
        """Send everything that is due now, ``limit`` rows per sink per pass, pass after pass until
        one moves nothing; stop ends it early. (One pass of 5,000 rows left ``once`` exiting 0 with
        15,000 of 20,000 unsent.) Rows are due as of the call's start, so a retried row (due again
        only after its backoff) is tried once per call, never until ``max_age``; what stays due
        waits on a paused destination or an earlier row of its incident."""
        start = self.clock()
        report = DeliveryReport()
        while not self.stop.is_set():
            names = {row.sink for row in self.store.due(start, limit)}
            if not names:
                break
            moved = DeliveryReport()
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                for part in pool.map(lambda name: self.drain(name, limit, due_at=start), sorted(names)):
                    moved.add(part)
            report.add(moved)
            if moved.delivered + moved.dead + moved.retried == 0:
                break
        self.refresh_gauges()
        return report

    def drain(self, sink_name: str, limit: int = 500, *, due_at: datetime | None = None) -> DeliveryReport:
        """Try the sink's rows due at ``due_at`` (default: now) in order, until its destination
        pauses or stop is set."""
        report = DeliveryReport()
        sink = self.sinks.get(sink_name)
        gate = self._gates.get(sink_name) or Gate(0.0)
        blocked: set[str] = set()  # incidents with an earlier row that failed: keep their order
        for row in self.store.due(due_at or self.clock(), limit, sink=sink_name):
            if self.stop.is_set() or gate.paused(self.clock()):
                break
            if row.notification.incident_id in blocked:
                continue
            if sink is None:
                self._dead(row, "no such sink in the current configuration", report)
                continue
            if self.stop.wait(gate.reserve()) or gate.paused(self.clock()):
                break  # stopping, or another sink of this destination was told to wait meanwhile
            if not self.store.mark_sending(row.id, self.clock()):
                blocked.add(row.notification.incident_id)  # another replica's attempt: leave it
                continue
            try:
                result = sink.send(row.notification)
            except Exception as exc:  # a sink bug must not stop delivery to the others
                result = DeliveryResult.retry(f"sink error: {type(exc).__name__}: {exc}")
            if not self._record(row, result, gate, report):
                blocked.add(row.notification.incident_id)
        return report

    def _record(self, row: OutboxRow, result: DeliveryResult, gate: Gate, report: DeliveryReport) -> bool:
        """Store the outcome of one attempt; False when the row is not delivered."""
        now, sink = self.clock(), row.sink
        if result.ok:
            self.store.mark_delivered(row.id, now, result.detail)
            self._count(sink, "delivered")
            report.delivered += 1
            report.by_sink[sink] = report.by_sink.get(sink, 0) + 1
            return True
        if result.retryable and now - row.created_at < self.policy.max_age:
            wait = next_attempt(row.attempts, result.retry_after, self.policy, self._rng)
            self.store.mark_retry(row.id, now + wait, result.detail)
            if result.retry_after:
                self._pause(sink, gate, now + timedelta(seconds=result.retry_after))
            self._count(sink, "retry")
            report.retried += 1
            return False
        self._dead(row, result.detail or "gave up", report)
        return False

    def _pause(self, sink: str, gate: Gate, until: datetime) -> None:
        """Retry-After is about the destination: hold every sink that sends there, in memory and on disk."""
        gate.pause(until)
        for name, other in self._gates.items():
            if other is gate:
                self.store.defer_sink(name, until)
        log.warning("destination asked to wait", extra={"sink": sink, "until": until.isoformat()})

    def _dead(self, row: OutboxRow, reason: str, report: DeliveryReport) -> None:
        self.store.mark_dead(row.id, self.clock(), reason)
        self._count(row.sink, "dead")
        log.error(
            "notification dead-lettered",
            extra={
                "sink": row.sink,
                "notification": row.notification.id,
                "attempts": row.attempts + 1,
                "reason": reason,
            },
        )
        report.dead += 1

    def _count(self, sink: str, outcome: str) -> None:
        self.metrics.inc("aadsts_enricher_notifications_total", {"sink": sink, "outcome": outcome})

    # -- one worker per sink, for the daemon ----------------------------------------------------

    def start(self) -> None:
        """One thread per sink (and per sink that left the config but still has rows)."""
        in_flight = [r for r in self.store.outbox(state="pending", limit=100_000) if r.sending_at]
        if in_flight:
            log.warning(
                "re-sending notifications whose last attempt was cut short; they may arrive twice",
                extra={"rows": len(in_flight), "sinks": sorted({r.sink for r in in_flight})},
            )
        for name in sorted({*self.sinks, *self.store.backlog()}):
            self._wake[name] = threading.Event()
            thread = threading.Thread(target=self._work, args=(name,), name=f"deliver:{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def wake(self) -> None:
        """New rows were written: every worker looks now instead of at its next interval."""
        for event in self._wake.values():
            event.set()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers; one stuck in a request is left to its own timeout (threads are daemons)."""
        self.stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout=timeout / max(1, len(self._threads)))

    def _work(self, name: str) -> None:
        wake, gate = self._wake[name], self._gates.get(name) or Gate(0.0)
        while not self.stop.is_set():
            wake.clear()
            try:
                report = self.drain(name)
                self.refresh_gauges()
            except StoreError:
                if self.stop.is_set():
                    return  # the store closed under us at shutdown: the row stays marked in flight
                log.exception("delivery worker failed; retrying", extra={"sink": name})
                report = DeliveryReport()
            except Exception:
                log.exception("delivery worker failed; retrying", extra={"sink": name})
                report = DeliveryReport()
            if report.delivered and not gate.paused(self.clock()):
                continue  # more may be due right away
            wake.wait(gate.idle(self.clock(), self.policy.interval.total_seconds()))

    def refresh_gauges(self) -> None:
        backlog = self.store.backlog()
        now = self.clock()
        names = {*self.sinks, *backlog}
        label: dict[str, LabelKey] = {name: (("sink", name),) for name in names}
        depth = {label[n]: float(backlog[n].depth) if n in backlog else 0.0 for n in names}
        age = {label[n]: (now - backlog[n].oldest).total_seconds() if n in backlog else 0.0 for n in names}
        self.metrics.replace("aadsts_enricher_outbox_depth", depth)
        self.metrics.replace("aadsts_enricher_outbox_oldest_age_seconds", age)
        self.metrics.replace(
            "aadsts_enricher_outbox_next_attempt_timestamp_seconds",
            {label[n]: b.next_at.timestamp() for n, b in backlog.items()},
        )
