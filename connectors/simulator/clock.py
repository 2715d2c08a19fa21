"""The simulated clock: a UTC instant that moves ``speed`` times faster than real time.

Everything the simulated tenant shows (which runs exist, which failed, which secrets expired,
which admin quota window is open) is a function of this clock, so tests freeze it
(``speed = 0``) or step it (``advance``) instead of sleeping. Access-token lifetimes are the
one exception: azure-identity caches tokens by real time, so tokens expire in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """A thread-safe clock: ``now() = start + advanced + (real elapsed) * speed``."""

    def __init__(
        self, start: datetime, speed: float = 1.0, *, real: Callable[[], float] = time.monotonic
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware (UTC)")
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        self._real = real
        self._start = start.astimezone(UTC)
        self._base = self._start  # simulated instant at the last anchor
        self._anchor = real()  # real instant of the last anchor
        self._speed = float(speed)

    @property
    def start(self) -> datetime:
        """The scenario's clock start: offsets such as ``from: "-2h"`` are relative to it."""
        return self._start

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        elapsed = (self._real() - self._anchor) * self._speed
        return self._base + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward (or back) by ``delta`` of simulated time; returns the new now."""
        with self._lock:
            self._base = self._now_locked() + delta
            self._anchor = self._real()
            return self._base

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._base = self._now_locked()
            self._anchor = self._real()
            self._speed = float(value)

    def real_seconds(self, simulated: float) -> float:
        """How long ``simulated`` seconds take in real time (a frozen clock: the same number)."""
        return simulated / self._speed if self._speed > 0 else simulated
