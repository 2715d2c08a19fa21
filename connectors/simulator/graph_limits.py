"""Graph reporting throttling and permission checks in front of ``auditLogs/signIns``.

Graph allows about 5 sign-in log requests per 10 seconds per app and tenant and answers the
sixth with 429 and a fractional ``Retry-After``. The window runs on real (monotonic) time, not
the simulated clock: a client's pacing is what is being tested, and it waits in real seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW = 10.0


class RateWindow:
    """A sliding 10 s window per (tenant, app): ``admit`` returns 0 or the seconds to wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str, app: str, limit: int) -> float:
        if limit <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault((tenant, app), deque())
            while seen and seen[0] <= now - WINDOW:
                seen.popleft()
            if len(seen) >= limit:
                return max(0.001, seen[0] + WINDOW - now)
            seen.append(now)
            return 0.0
