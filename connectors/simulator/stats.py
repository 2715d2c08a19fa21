"""Request counters: total, per API, per route template, and a recent-request log with arrival times.

The benchmark reads the counters; tests read the log to check client behaviour that only the
server can see, such as "no request arrived before Retry-After had elapsed".
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apis: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._log: deque[tuple[float, str, str]] = deque(maxlen=10_000)

    def record(self, api: str, route: str) -> None:
        with self._lock:
            self._apis[api] += 1
            self._routes[route] += 1
            self._log.append((time.monotonic(), api, route))

    def arrivals(self, api: str | None = None) -> list[tuple[float, str]]:
        """(monotonic arrival time, route) of the most recent requests, oldest first."""
        with self._lock:
            return [(t, r) for t, a, r in self._log if api is None or a == api]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._apis.values())

    @property
    def per_api(self) -> dict[str, int]:
        with self._lock:
            return dict(self._apis)

    @property
    def per_route(self) -> dict[str, int]:
        """Keys look like ``GET /powerbi/v1.0/myorg/groups/{groupId}/datasets``."""
        with self._lock:
            return dict(self._routes)

    def api(self, name: str) -> int:
        with self._lock:
            return self._apis[name]

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "total": sum(self._apis.values()),
                "per_api": dict(self._apis),
                "per_route": dict(self._routes),
            }

    def reset(self) -> None:
        with self._lock:
            self._apis.clear()
            self._routes.clear()
            self._log.clear()
