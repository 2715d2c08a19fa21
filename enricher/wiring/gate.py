"""One destination's traffic light: paused until its Retry-After ends, and paced to its rate.

A destination is whatever a vendor rate-limits: a Slack or Teams webhook URL, a PagerDuty routing
key, a webhook URL; sinks say which with a ``destination`` attribute (default: the sink's name).
Every worker that sends there holds the same gate, so a 429 seen by one stops them all, and the
pace (Slack about 1 message per second per webhook, PagerDuty about 120 events per minute per
routing key) is the destination's, however many sinks share it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from enricher.sinks.base import Sink


def destination_of(sink: Sink) -> str:
    return str(getattr(sink, "destination", "") or f"sink:{sink.name}")


class Gate:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate and rate != float("inf") else 0.0
        self._paused_until: datetime | None = None
        self._next_send = 0.0  # time.monotonic() of the earliest next send
        self._lock = threading.Lock()

    def pause(self, until: datetime) -> None:
        with self._lock:
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until

    def paused(self, now: datetime) -> bool:
        with self._lock:
            return self._paused_until is not None and now < self._paused_until

    def reserve(self) -> float:
        """Seconds to wait before sending; books the slot, so concurrent workers queue behind each other."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_send)
            self._next_send = start + self.interval
            return start - now

    def idle(self, now: datetime, interval: float) -> float:
        """How long a worker with nothing to send sleeps: its interval, or less if a pause ends sooner."""
        with self._lock:
            if self._paused_until is None or self._paused_until <= now:
                return interval
            return min(interval, (self._paused_until - now).total_seconds() + 0.01)
