"""What the dashboard asks the store: a filter, the rows it gets back, and the order it lists in.

The dashboard's numbers must be exact at any size, so it never reads "the first thousand
incidents" and counts those: the store counts (``count_incidents``), lists a page in the
dashboard's order (``list_incidents``), and returns light rows for the charts (``incident_rows``,
``failure_events``). ``matches`` and ``list_key`` are the plain-Python meaning of the filter and
the order; the SQLite store says the same in SQL and the contract tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Callable
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
    #: text the incident's :func:`search_text` must contain (compared case-folded); "" matches all
    q: str = ""
    #: only these incidents (a permalink), and only the children of this parent
    ids: tuple[str, ...] = ()
    parent: str | None = None


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


def shown_severity(severity: str) -> str:
    """A severity the dashboard does not know (an older or hand-edited knowledge base) is 'info'."""
    return severity if severity in RANK else "info"


def severity_of(inc: Incident) -> str:
    return shown_severity(inc.severity)


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
        and (not f.q or f.q.casefold() in search_text(inc))
        and (not f.ids or inc.id in f.ids)
        and (f.parent is None or inc.parent == f.parent)
    )


def search_text(inc: Incident) -> str:
    """What the dashboard's search (``q=``) looks in: code, title, item, type and workspace names.

    Case-folded and kept in its own column by the SQLite store, so a search reads no body."""
    title = inc.content.get("title")
    parts = [f"aadsts{inc.code}", title if isinstance(title, str) else ""]
    parts += [f"{i.item_name} {i.item_type} {i.container_name}" for i in inc.items]
    return " ".join(parts).casefold()


@dataclass(frozen=True, slots=True)
class Summary:
    """The dashboard's first line: open incidents per severity, and what changed since a moment."""

    open_by_severity: dict[str, int]
    #: first failure at or after the moment
    new: int
    #: resolved at or after the moment
    resolved: int


def list_key(inc: Incident) -> tuple[int, int, float, float, str]:
    """Open first, worst then latest first; then resolved, latest resolved first; then by id."""
    if inc.state == "open":
        return (0, RANK[severity_of(inc)], -inc.last_seen.timestamp(), 0.0, inc.id)
    return (1, 0, 0.0, -(inc.resolved_at or inc.last_seen).timestamp(), inc.id)


#: The orders a list can be sorted in (``list_incidents(sort=...)``); the first is the default.
SORTS = ("severity", "last", "first", "code")


def sort_key(sort: str) -> Callable[[Incident], tuple[object, ...]]:
    """The Python order for ``sort`` (open first, then resolved, as ``list_key``; ties by id).

    ``last``: latest failure first; ``first``: newest first failure first; ``code``: by code,
    then latest failure first. The SQLite store says the same in SQL."""
    if sort == "last":
        return lambda i: (i.state != "open", -i.last_seen.timestamp(), i.id)
    if sort == "first":
        return lambda i: (i.state != "open", -i.first_seen.timestamp(), i.id)
    if sort == "code":
        return lambda i: (i.state != "open", i.code, -i.last_seen.timestamp(), i.id)
    return list_key


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
