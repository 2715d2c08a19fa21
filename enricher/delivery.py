"""Durable delivery: the outbox, drained per sink with backoff, rate limits and a dead letter.

Each (notification, sink) pair is an outbox row before anything is sent, and a row's state changes
only after the sink answered, so a sink that is down keeps its rows while the others deliver
theirs. Sinks are drained in parallel, each by one thread in row order (which keeps notifications
of one incident in order) and no faster than the sink's rate. A retryable failure waits
``min(max_delay, base * 2^attempts)`` with full jitter, never less than the destination's
Retry-After; a permanent failure, or a row older than ``max_age``, goes to the dead letter with a
log line and a metric.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from enricher.config import DeliveryConfig
from enricher.metrics import Metrics
from enricher.sinks.base import DeliveryResult, Sink
from enricher.store import OutboxRow, Store

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
        self._next_send: dict[str, float] = {}

    def deliver_due(self, limit: int = 5000) -> DeliveryReport:
        """Send what is due now; returns when every sink's due rows were tried once (or stop is set)."""
        rows = self.store.due(self.clock(), limit)
        per_sink: dict[str, list[OutboxRow]] = {}
        for row in rows:
            per_sink.setdefault(row.sink, []).append(row)
        report = DeliveryReport()
        lock = threading.Lock()
        if not per_sink:
            self._gauge()
            return report
        with ThreadPoolExecutor(max_workers=min(8, len(per_sink))) as pool:
            for sink_name, sink_rows in per_sink.items():
                pool.submit(self._drain, sink_name, sink_rows, report, lock)
        self._gauge()
        return report

    def _drain(
        self, sink_name: str, rows: list[OutboxRow], report: DeliveryReport, lock: threading.Lock
    ) -> None:
        sink = self.sinks.get(sink_name)
        blocked: set[str] = set()
        for row in rows:
            if self.stop.is_set():
                return
            incident = row.notification.incident_id
            if incident in blocked:
                continue  # an earlier notification of this incident failed: keep the order
            if sink is None:
                self._dead(row, "no such sink in the current configuration", report, lock)
                continue
            self._pace(sink)
            try:
                result = sink.send(row.notification)
            except Exception as exc:  # a sink bug must not stop delivery to the others
                result = DeliveryResult.retry(f"sink error: {type(exc).__name__}: {exc}")
            now = self.clock()
            if result.ok:
                self.store.mark_delivered(row.id, now, result.detail)
                self.metrics.inc(
                    "aadsts_enricher_notifications_total", {"sink": sink_name, "outcome": "delivered"}
                )
                with lock:
                    report.delivered += 1
                    report.by_sink[sink_name] = report.by_sink.get(sink_name, 0) + 1
            elif result.retryable and now - row.created_at < self.policy.max_age:
                blocked.add(incident)
                wait = next_attempt(row.attempts, result.retry_after, self.policy, self._rng)
                self.store.mark_retry(row.id, now + wait, result.detail)
                self.metrics.inc(
                    "aadsts_enricher_notifications_total", {"sink": sink_name, "outcome": "retry"}
                )
                with lock:
                    report.retried += 1
            else:
                blocked.add(incident)
                self._dead(row, result.detail or "gave up", report, lock)

    def _dead(self, row: OutboxRow, reason: str, report: DeliveryReport, lock: threading.Lock) -> None:
        self.store.mark_dead(row.id, self.clock(), reason)
        self.metrics.inc("aadsts_enricher_notifications_total", {"sink": row.sink, "outcome": "dead"})
        log.error(
            "notification dead-lettered",
            extra={
                "sink": row.sink,
                "notification": row.notification.id,
                "attempts": row.attempts + 1,
                "reason": reason,
            },
        )
        with lock:
            report.dead += 1

    def _pace(self, sink: Sink) -> None:
        """Space sends to the sink's rate (Slack about 1/s per webhook, PagerDuty 120/min...)."""
        if not sink.rate or sink.rate == float("inf"):
            return
        now = time.monotonic()
        ready = self._next_send.get(sink.name, now)
        if ready > now:
            self.stop.wait(ready - now)
        self._next_send[sink.name] = max(now, ready) + 1.0 / sink.rate

    def _gauge(self) -> None:
        depth = self.store.outbox_depth()
        self.metrics.replace(
            "aadsts_enricher_outbox_depth",
            {(("sink", name),): float(depth.get(name, 0)) for name in {*self.sinks, *depth}},
        )
