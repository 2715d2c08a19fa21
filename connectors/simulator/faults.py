"""Injected faults and the documented admin quotas.

A ``FaultRule`` fires on requests to one API (``"*"``: any), optionally only where the path
and query contain ``path_contains``, with probability ``rate`` drawn from a seeded RNG (so a
given request sequence always sees the same faults), at most ``count`` times. Rules are tried in
the order they were added; the first that fires wins.

Kinds: ``throttle`` (429 + Retry-After), ``error5xx`` (``status``, default 500), ``slow``
(sleep ``delay_ms``, then answer), ``truncated`` (a valid start of the JSON, cut off),
``malformed`` (not JSON), ``expired_token`` (answer as for an expired token), ``down`` (drop the
connection; with ``status=503`` answer 503 instead), ``forbidden`` (403 in the API's envelope, as
for a caller without rights), ``loop`` (the paging link of an answer points back at the same
request, and ``$skip`` is ignored), ``flood`` (the answer's ``value`` holds ``rows`` rows,
copies of its first). A hung host is ``slow`` with a ``delay_ms`` beyond the client's timeout: the
connection is accepted and no byte comes back.

``Quota`` counts requests in SIMULATED time (a fast clock must not trip the hourly admin limits)
and answers with a Retry-After in real seconds.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from connectors.simulator.scenario import FaultSpec

FaultKind = Literal[
    "throttle",
    "error5xx",
    "slow",
    "truncated",
    "malformed",
    "expired_token",
    "down",
    "forbidden",
    "loop",
    "flood",
]
APIS = ("token", "powerbi", "fabric", "arm", "synapse", "graph", "log_analytics")


@dataclass(frozen=True)
class FaultRule:
    api: str
    kind: FaultKind
    rate: float = 1.0
    count: int | None = None
    retry_after: float = 1.0
    delay_ms: int = 0
    path_contains: str | None = None
    status: int | None = None
    rows: int = 100_000

    def __post_init__(self) -> None:
        if self.api != "*" and self.api not in APIS:
            raise ValueError(f"unknown api {self.api!r}: one of {', '.join(APIS)} or '*'")
        if not 0 <= self.rate <= 1:
            raise ValueError("rate must be within [0, 1]")

    @classmethod
    def from_spec(cls, spec: FaultSpec) -> FaultRule:
        return cls(**spec.model_dump())


class Faults:
    """The active fault rules of one simulator (thread-safe)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._fired: list[int] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
            self._fired.append(0)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._fired.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def fired(self, rule: FaultRule) -> int:
        """How many times ``rule`` has fired."""
        with self._lock:
            return sum(n for r, n in zip(self._rules, self._fired, strict=True) if r is rule)

    def pick(self, api: str, target: str) -> FaultRule | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.api not in {"*", api}:
                    continue
                if rule.path_contains is not None and rule.path_contains not in target:
                    continue
                if rule.count is not None and self._fired[i] >= rule.count:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                self._fired[i] += 1
                return rule
        return None


class Quota:
    """Sliding windows of (max requests, seconds) per key, in simulated time."""

    def __init__(self, *limits: tuple[int, float]) -> None:
        self._limits = limits
        self._longest = max(seconds for _, seconds in limits)
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: datetime) -> float | None:
        """Record a request and return None, or the simulated seconds to wait (not recorded)."""
        t = now.timestamp()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= t - self._longest:
                seen.popleft()
            wait = 0.0
            for limit, seconds in self._limits:
                recent = [s for s in seen if s > t - seconds]
                if len(recent) >= limit:
                    wait = max(wait, recent[-limit] + seconds - t)
            if wait > 0:
                return wait
            seen.append(t)
            return None

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
