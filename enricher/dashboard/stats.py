"""The numbers behind the charts, from incident views and their recorded failures. Pure.

A failure counts on the day it was recorded: the pipeline writes one ``failure`` event per failed
run it attributes to an incident, at the time it read the run. Runs read late (the first poll
looks back hours) would all land on the poll's day, so each time is capped at the incident's last
failure and the earliest one is moved to the incident's first failure; failures without an event
(older stores) count on the day of the last failure. Only failures within the range are counted.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from enricher.dashboard.view import CONTAINER_KIND, SOURCE_LABEL

TOP_CONTAINERS = 10
#: Time-to-resolve histogram buckets: (label, upper bound in seconds).
RESOLVE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 15 min", 15 * 60),
    ("15-60 min", 3600),
    ("1-4 h", 4 * 3600),
    ("4-24 h", 86400),
    ("> 1 d", float("inf")),
)


class Counted(Protocol):
    """What the numbers need of an incident: a view, or a light row the store reads in SQL."""

    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def short(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def count(self) -> int: ...
    @property
    def workspaces(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    codes: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.codes.values())


@dataclass(frozen=True, slots=True)
class GroupCount:
    """Failures and incidents of one code, source or workspace/factory."""

    name: str
    label: str
    source: str
    failures: int
    incidents: int
    open: int


@dataclass(frozen=True, slots=True)
class ResolveStats:
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None
    buckets: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Stats:
    start: datetime
    end: datetime
    incidents: int
    open: int
    resolved: int
    failures: int
    days: tuple[DayCount, ...]
    codes: tuple[GroupCount, ...]
    sources: tuple[GroupCount, ...]
    containers: tuple[GroupCount, ...]
    resolve: ResolveStats


def failure_times(view: Counted, recorded: Sequence[datetime]) -> list[datetime]:
    """When each of ``view.count`` failures happened, as well as the recorded events tell."""
    times = sorted(min(t, view.last_seen) for t in recorded)[-view.count :] if view.count else []
    if times:
        times[0] = min(times[0], view.first_seen)
    times.extend([view.last_seen] * (view.count - len(times)))
    return times


def compute_stats(
    views: Sequence[Counted], failures: Mapping[str, Sequence[datetime]], start: datetime, end: datetime
) -> Stats:
    """``failures`` maps incident id -> failure times (see :func:`failure_times`)."""
    days = _days(start, end)
    per_day: dict[date, Counter[str]] = {d: Counter() for d in days}
    by: dict[str, dict[str, _Tally]] = {"code": {}, "source": {}, "container": {}}
    for view in views:
        inside = [t for t in failures.get(view.id, ()) if start <= t <= end]
        for t in inside:
            per_day[t.astimezone(UTC).date()][view.code] += 1
        keys = {
            "code": [(view.code, view.short or view.code, "")],
            "source": [(view.source, SOURCE_LABEL.get(view.source, view.source), view.source)],
            "container": [
                (w, f"{w} ({CONTAINER_KIND.get(view.source, 'workspace')})", view.source)
                for w in view.workspaces
            ],
        }
        for group, names in keys.items():
            for name, label, source in names:
                tally = by[group].setdefault(f"{source}|{name}", _Tally(name, label, source))
                tally.add(len(inside), view.state == "open")
    return Stats(
        start=start,
        end=end,
        incidents=len(views),
        open=sum(v.state == "open" for v in views),
        resolved=sum(v.state != "open" for v in views),
        failures=sum(sum(c.values()) for c in per_day.values()),
        days=tuple(DayCount(d, dict(per_day[d].most_common())) for d in days),
        codes=_ranked(by["code"]),
        sources=_ranked(by["source"]),
        containers=_ranked(by["container"])[:TOP_CONTAINERS],
        resolve=resolve_stats(
            [max(0.0, (v.resolved_at - v.first_seen).total_seconds()) for v in views if v.resolved_at]
        ),
    )


def resolve_stats(seconds: Sequence[float]) -> ResolveStats:
    ordered = sorted(seconds)
    counts = [0] * len(RESOLVE_BUCKETS)
    for s in ordered:
        counts[next(i for i, (_, upper) in enumerate(RESOLVE_BUCKETS) if s < upper)] += 1
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else None
    return ResolveStats(
        count=len(ordered),
        median_seconds=statistics.median(ordered) if ordered else None,
        p90_seconds=p90,
        max_seconds=ordered[-1] if ordered else None,
        buckets=tuple((label, n) for (label, _), n in zip(RESOLVE_BUCKETS, counts, strict=True)),
    )


def stats_json(stats: Stats) -> dict[str, object]:
    """``/api/stats`` (the README documents every field)."""

    def groups(rows: Sequence[GroupCount], field: str) -> list[dict[str, object]]:
        return [
            {field: g.name, "label": g.label}
            | ({"source": g.source} if field == "container_name" else {})
            | {"failures": g.failures, "incidents": g.incidents, "open": g.open}
            for g in rows
        ]

    r = stats.resolve
    return {
        "start": stats.start.isoformat(),
        "end": stats.end.isoformat(),
        "totals": {
            "incidents": stats.incidents,
            "open": stats.open,
            "resolved": stats.resolved,
            "failures": stats.failures,
        },
        "failures_per_day": [
            {"day": d.day.isoformat(), "total": d.total, "codes": d.codes} for d in stats.days
        ],
        "by_code": groups(stats.codes, "code"),
        "by_source": groups(stats.sources, "source"),
        "top_containers": groups(stats.containers, "container_name"),
        "time_to_resolve": {
            "count": r.count,
            "median_seconds": r.median_seconds,
            "p90_seconds": r.p90_seconds,
            "max_seconds": r.max_seconds,
            "buckets": [{"label": label, "count": n} for label, n in r.buckets],
        },
    }


class _Tally:
    def __init__(self, name: str, label: str, source: str) -> None:
        self.name, self.label, self.source = name, label, source
        self.failures = 0
        self.incidents = 0
        self.open = 0

    def add(self, failures: int, is_open: bool) -> None:
        self.failures += failures
        self.incidents += 1
        self.open += is_open


def _ranked(tallies: Mapping[str, _Tally]) -> tuple[GroupCount, ...]:
    rows = [GroupCount(t.name, t.label, t.source, t.failures, t.incidents, t.open) for t in tallies.values()]
    return tuple(sorted(rows, key=lambda g: (-g.failures, -g.incidents, g.name, g.source)))


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
