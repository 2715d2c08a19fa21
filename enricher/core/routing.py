"""Routing, silences and maintenance windows: pure decisions over a notification's labels.

Labels: severity, category, code, source, tenant, workspace (workspace or factory), item. A match
lists values per label (globs, or regular expressions written ``re:...``); all listed labels must
match. Routes are tried in order; the first match wins unless it says ``continue``; nothing
matched -> the fallback sinks.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from enricher.config import MaintenanceWindow, Match, RouteConfig

_LABELS = ("severity", "category", "code", "source", "tenant", "workspace", "item")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def matches(match: Match, labels: Mapping[str, str]) -> bool:
    for label in _LABELS:
        wanted = getattr(match, label)
        if wanted is not None and not any(_one(p, labels.get(label, "")) for p in wanted):
            return False
    return True


def _one(pattern: str, value: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], value) is not None
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().removeprefix("aadsts"))


def route(labels: Mapping[str, str], routes: Sequence[RouteConfig], fallback: Iterable[str]) -> list[str]:
    """Sink names for a notification with ``labels``, in route order, without duplicates."""
    chosen: list[str] = []
    for r in routes:
        if matches(r.match, labels):
            chosen.extend(s for s in r.sinks if s not in chosen)
            if not r.continue_:
                return chosen
    return chosen or list(fallback)


@dataclass(frozen=True)
class Silence:
    id: str
    match: Match
    ends_at: datetime
    comment: str = ""
    created_by: str = ""

    def active(self, now: datetime) -> bool:
        return now < self.ends_at


def in_window(window: MaintenanceWindow, now: datetime) -> bool:
    """Whether ``now`` falls inside a recurring weekly window (in the window's own time zone)."""
    local = now.astimezone(ZoneInfo(window.timezone))
    start = time.fromisoformat(window.start)
    end = time(23, 59, 59, 999999) if window.end == "24:00" else time.fromisoformat(window.end)
    day = _DAYS[local.weekday()]
    if start <= end:
        return day in window.weekdays and start <= local.time() < end
    # crosses midnight: the part after midnight belongs to the previous day's window
    yesterday = _DAYS[(local.weekday() - 1) % 7]
    return (day in window.weekdays and local.time() >= start) or (
        yesterday in window.weekdays and local.time() < end
    )


def muted(
    labels: Mapping[str, str],
    now: datetime,
    silences: Iterable[Silence],
    windows: Iterable[MaintenanceWindow],
) -> bool:
    if any(s.active(now) and matches(s.match, labels) for s in silences):
        return True
    return any(in_window(w, now) and matches(w.match, labels) for w in windows)
