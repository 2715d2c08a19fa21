"""Request counters: total, per API, per route template. The benchmark reads these."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apis: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()

    def record(self, api: str, route: str) -> None:
        with self._lock:
            self._apis[api] += 1
            self._routes[route] += 1

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
