"""The sink contract: ``send(notification) -> DeliveryResult``, a value, never an exception.

The delivery worker decides what to do with a result: ``ok`` marks the outbox row delivered;
``retryable`` schedules another attempt (no sooner than ``retry_after`` seconds); anything else
is a permanent failure that goes to the dead letter with ``detail`` as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from enricher.notification import Notification


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    retryable: bool = False
    retry_after: float | None = None
    detail: str = ""
    status: int | None = None

    @classmethod
    def success(cls, detail: str = "", status: int | None = None) -> DeliveryResult:
        return cls(True, detail=detail, status=status)

    @classmethod
    def retry(
        cls, detail: str, retry_after: float | None = None, status: int | None = None
    ) -> DeliveryResult:
        return cls(False, retryable=True, retry_after=retry_after, detail=detail, status=status)

    @classmethod
    def fail(cls, detail: str, status: int | None = None) -> DeliveryResult:
        return cls(False, retryable=False, detail=detail, status=status)


class Sink(Protocol):
    name: str
    #: Sustained sends per second the destination tolerates (the worker spaces sends to this rate).
    rate: float
    send_resolved: bool

    def send(self, notification: Notification) -> DeliveryResult: ...

    def close(self) -> None: ...
