"""What the dashboard asks the store: a filter, the rows it gets back, and the order it lists in.

The dashboard's numbers must be exact at any size, so it never reads "the first thousand
incidents" and counts those: the store counts (``count_incidents``), lists a page in the
dashboard's order (``list_incidents``), and returns light rows for the charts (``incident_rows``,
``failure_events``). ``matches`` and ``list_key`` are the plain-Python meaning of the filter and
the order; the SQLite store says the same in SQL and the contract tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from enricher.core.incidents import Incident
from enricher.core.kb_schema import SEVERITIES

#: Severity rank in lists (an unknown severity is shown and sorted as "info").
RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """Incidents open, or last seen at or after ``since``, that match every filter given (each a
    choice of values; ``workspaces`` compare case-insensitively)."""

    since: datetime
    sources: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    workspaces: tuple[str, ...] = ()
    #: only incidents that are no parent's child (a parent lists its children, so the top level
    #: counts each root cause once)
    top_level: bool = False


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """The columns the dashboard's numbers need, read without decoding the incident's body."""

    id: str
    state: str
    severity: str
    code: str
    short: str
    source: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    workspaces: tuple[str, ...]


def severity_of(inc: Incident) -> str:
    return inc.severity if inc.severity in RANK else "info"


def workspaces_of(inc: Incident) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.container_name for i in inc.items if i.container_name))


def matches(inc: Incident, f: IncidentFilter) -> bool:
    wanted = {w.casefold() for w in f.workspaces}
    return (
        (inc.state == "open" or inc.last_seen >= f.since)
        and (not f.sources or inc.source in f.sources)
        and (not f.severities or severity_of(inc) in f.severities)
        and (not f.codes or inc.code in f.codes)
        and (not wanted or any(w.casefold() in wanted for w in workspaces_of(inc)))
        and (not f.top_level or inc.parent is None)
    )


def list_key(inc: Incident) -> tuple[int, int, float, float, str]:
    """Open first, worst then latest first; then resolved, latest resolved first; then by id."""
    if inc.state == "open":
        return (0, RANK[severity_of(inc)], -inc.last_seen.timestamp(), 0.0, inc.id)
    return (1, 0, 0.0, -(inc.resolved_at or inc.last_seen).timestamp(), inc.id)


def row_of(inc: Incident) -> IncidentRow:
    short = inc.content.get("short")
    return IncidentRow(
        inc.id,
        inc.state,
        severity_of(inc),
        inc.code,
        short if isinstance(short, str) else "",
        inc.source,
        inc.first_seen,
        inc.last_seen,
        inc.resolved_at,
        inc.count,
        workspaces_of(inc),
    )
