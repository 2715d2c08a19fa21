"""Fakes for our own collaborators (never for outside libraries): a sink that remembers."""

from __future__ import annotations

import threading

from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult


class MemorySink:
    """Collects notifications; can be told to fail, to test durable delivery."""

    def __init__(self, name: str = "memory", *, rate: float = 0.0, send_resolved: bool = True) -> None:
        self.name = name
        self.rate = rate
        self.send_resolved = send_resolved
        self.sent: list[Notification] = []
        self.down = False
        self.permanent = False
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        if self.permanent:
            return DeliveryResult.fail("HTTP 400: rejected")
        if self.down:
            return DeliveryResult.retry("HTTP 503: down", retry_after=0.0)
        with self._lock:
            self.sent.append(notification)
        return DeliveryResult.success("ok")

    def close(self) -> None:
        pass

    def kinds(self) -> list[tuple[str, str, str]]:
        return [(n.kind, n.code, n.item.item_name) for n in self.sent]
