"""The numbers behind the charts. Pure.

The store adds them up (``enricher.store.tallies``: failures per day and code, failures,
incidents and open incidents per code, source and workspace); this module ranks, labels and
shapes them. When a failure happened, and so on which day it counts, is
:func:`enricher.store.tallies.failure_times`; only failures within the range are counted.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from enricher.dashboard.view import CONTAINER_KIND, SOURCE_LABEL
from enricher.store.tallies import Counted, Tally, failure_times, resolve_seconds, tally

__all__ = ["Counted", "Stats", "compute_stats", "failure_times", "stats_from", "stats_json"]

TOP_CONTAINERS = 10
#: Time-to-resolve histogram buckets: (label, upper bound in seconds).
RESOLVE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 15 min", 15 * 60),
    ("15-60 min", 3600),
    ("1-4 h", 4 * 3600),
    ("4-24 h", 86400),
    ("> 1 d", float("inf")),
)


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
    #: every workspace and factory name in the range, for the filter's choices (the chart: the top 10)
    container_names: tuple[str, ...] = ()


def compute_stats(
    views: Sequence[Counted], failures: Mapping[str, Sequence[datetime]], start: datetime, end: datetime
) -> Stats:
    """``failures`` maps incident id -> failure times (see :func:`failure_times`)."""
    seconds = [s for v in views if (s := resolve_seconds(v)) is not None]
    return stats_from(tally(views, failures, start, end), seconds, start, end)


def stats_from(
    counts: Tally,
    seconds: Sequence[float],
    start: datetime,
    end: datetime,
    clean: Callable[[str], str] = str,
) -> Stats:
    """The charts' numbers from a tally (``enricher.store.tallies``) and the resolve times.

    ``clean`` is applied to titles and workspace names (the page hides credentials in them);
    names that become equal are counted together. A code's label is its short title (the
    smallest, when its incidents carry different ones), else the code itself.
    """
    groups: dict[str, dict[tuple[str, str], _Tally]] = {"code": {}, "source": {}, "container": {}}
    days = {d: Counter[str]() for d in _days(start, end)}
    shorts: dict[str, set[str]] = {}
    for key, n in counts.items():
        if key[0] == "day":
            if n and date.fromisoformat(key[1]) in days:
                days[date.fromisoformat(key[1])][key[2]] += n
        elif key[0] == "short":
            if n > 0 and clean(key[2]):
                shorts.setdefault(key[1], set()).add(clean(key[2]))
        else:
            source, name = (key[1], clean(key[2])) if key[0] == "container" else ("", key[1])
            tally_ = groups[key[0]].setdefault((source, name), _Tally(name, "", source))
            setattr(tally_, key[-1], getattr(tally_, key[-1]) + n)
    for kind, found in groups.items():
        for (source, name), t in found.items():
            t.source = source if kind != "code" else ""
            t.label = _label(kind, name, source, shorts)
    codes, sources = _ranked(groups["code"]), _ranked(groups["source"])
    return Stats(
        start=start,
        end=end,
        incidents=sum(g.incidents for g in codes),
        open=sum(g.open for g in codes),
        resolved=sum(g.incidents - g.open for g in codes),
        failures=sum(sum(c.values()) for c in days.values()),
        days=tuple(
            DayCount(d, dict(sorted(((k, v) for k, v in c.items() if v), key=lambda kv: (-kv[1], kv[0]))))
            for d, c in days.items()
        ),
        codes=codes,
        sources=sources,
        containers=_ranked(groups["container"])[:TOP_CONTAINERS],
        resolve=resolve_stats(seconds),
        container_names=tuple(
            sorted({g.name for g in _ranked(groups["container"]) if g.name}, key=str.casefold)
        ),
    )


def _label(kind: str, name: str, source: str, shorts: Mapping[str, set[str]]) -> str:
    if kind == "code":
        return min(shorts.get(name, ()), default=name)
    if kind == "source":
        return SOURCE_LABEL.get(name, name)
    return f"{name} ({CONTAINER_KIND.get(source, 'workspace')})"


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


def _ranked(tallies: Mapping[tuple[str, str], _Tally]) -> tuple[GroupCount, ...]:
    rows = [
        GroupCount(t.name, t.label, t.source, t.failures, t.incidents, t.open)
        for t in tallies.values()
        if t.incidents > 0
    ]
    return tuple(sorted(rows, key=lambda g: (-g.failures, -g.incidents, g.name, g.source)))


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
