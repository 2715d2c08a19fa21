"""The dashboard's numbers as one ``Counter`` that adds and subtracts. Pure.

``/api/stats`` needs, for the incidents matching a filter, their failures per day and code and
their failures, incidents and open incidents per code, source and workspace. Reading one row per
incident to add those up took seconds at 100,000 incidents, so the SQLite store keeps them summed
(``stat_sums``) and adds them up per group instead; the few incidents the sums cannot place
exactly (a range that starts or ends inside one of their days) are taken out and counted again
from their own rows here. Both ways produce the same keys, so the two add up:

- ``("day", "2025-04-02", code)``: failures within the range on that UTC day
- ``("code" | "source", name, "failures" | "incidents" | "open")``
- ``("container", source, workspace, "failures" | "incidents" | "open")``
- ``("short", code, title)``: incidents of that code with that short title (the code's label)

A failure counts when it falls within the range; when it happened is :func:`failure_times`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

Tally = Counter[tuple[str, ...]]


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


class Timed(Protocol):
    """What :func:`failure_times` needs (an ``Incident`` has it too)."""

    @property
    def first_seen(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime: ...
    @property
    def count(self) -> int: ...


def failure_times(view: Timed, recorded: Sequence[datetime]) -> list[datetime]:
    """When each of ``view.count`` failures happened, as well as the recorded events tell.

    A failure counts on the day it was recorded: the pipeline writes one ``failure`` event per
    failed run it attributes to an incident, at the time it read the run. Runs read late (the
    first poll looks back hours) would all land on the poll's day, so each time is capped at the
    incident's last failure and the earliest one is moved to the incident's first failure;
    failures without an event (older stores) count on the day of the last failure. So no time is
    ever later than ``last_seen``, which the SQLite sums rely on.
    """
    times = sorted(min(t, view.last_seen) for t in recorded)[-view.count :] if view.count else []
    if times:
        times[0] = min(times[0], view.first_seen)
    times.extend([view.last_seen] * (view.count - len(times)))
    return times


def day_of(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def resolve_seconds(view: Counted) -> float | None:
    if view.resolved_at is None:
        return None
    return max(0.0, (view.resolved_at - view.first_seen).total_seconds())


def tally(
    views: Iterable[Counted], failures: Mapping[str, Sequence[datetime]], start: datetime, end: datetime
) -> Tally:
    """The numbers of ``views`` (all of them count); ``failures``: id -> :func:`failure_times`."""
    out: Tally = Counter()
    for view in views:
        inside = [t for t in failures.get(view.id, ()) if start <= t <= end]
        for t in inside:
            out["day", day_of(t), view.code] += 1
        opened = int(view.state == "open")
        groups: list[tuple[str, ...]] = [("code", view.code), ("source", view.source)]
        groups += [("container", view.source, w) for w in view.workspaces]
        for group in groups:
            out[(*group, "failures")] += len(inside)
            out[(*group, "incidents")] += 1
            out[(*group, "open")] += opened
        out["short", view.code, view.short] += 1
    return out


def summed_row(
    tally_: Tally, workspace: str, source: str, code: str, short: str, is_open: int, day: str, n: int
) -> None:
    """Add one summed row of the SQLite store (``day`` '' counts incidents, else failures that day)."""
    if workspace:
        group: tuple[str, ...] = ("container", source, workspace)
        if day:
            tally_[(*group, "failures")] += n
        else:
            tally_[(*group, "incidents")] += n
            tally_[(*group, "open")] += n * is_open
        return
    if day:
        tally_["day", day, code] += n
        tally_["code", code, "failures"] += n
        tally_["source", source, "failures"] += n
        return
    for group in (("code", code), ("source", source)):
        tally_[(*group, "incidents")] += n
        tally_[(*group, "open")] += n * is_open
    tally_["short", code, short] += n


def exact_tally(
    rows: Sequence[Counted], recorded: Mapping[str, Sequence[datetime]], start: datetime, end: datetime
) -> tuple[Tally, list[float]]:
    """The numbers of ``rows`` from their recorded failure events, and their resolve times."""
    failures = {r.id: failure_times(r, recorded.get(r.id, ())) for r in rows}
    return tally(rows, failures, start, end), [s for r in rows if (s := resolve_seconds(r)) is not None]
