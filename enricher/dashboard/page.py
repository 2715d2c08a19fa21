"""View models -> the dashboard's HTML. Pure: the route glue hands in everything, including ``now``.

The templates (``templates/*.html``) run with autoescaping on and ``StrictUndefined``, so every
value is escaped unless it is :class:`~markupsafe.Markup` (only the SVG charts from
``charts.py`` are), and a typo in a field name fails the render instead of printing nothing.
Three pages share one layout (``base.html``): the overview (``/``), one incident
(``/incidents/{id}``) and one code (``/codes/{code}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup

from enricher.core.forecast import Expiring
from enricher.core.kb_schema import SEVERITIES, Entry
from enricher.core.signin import cause_line
from enricher.dashboard import charts
from enricher.dashboard.filters import RANGES, Filters
from enricher.dashboard.stats import Stats
from enricher.dashboard.timeline import Step
from enricher.dashboard.view import SOURCE_LABEL, IncidentView, scrub
from enricher.notification import describe_duration
from enricher.store.base import Backlog
from enricher.store.queries import SORTS, Summary

Option = tuple[str, str]  # (value, label)
_LABEL: dict[str, Callable[[str], str]] = {
    "source": lambda s: SOURCE_LABEL.get(s, s),
    "code": lambda c: f"AADSTS{c}",
}
#: How far back "changed since" looks unless the link says (``since=``).
SINCE_CHOICES = ("1h", "24h", "7d")


@dataclass(frozen=True)
class SourceHealth:
    """One configured source: its last poll, its last good poll, and the last poll's error."""

    name: str
    last_try: datetime | None
    last_ok: datetime | None
    error: str = ""


@dataclass(frozen=True)
class Listing:
    """Which page of the open incidents is shown, in which order, and what "changed since" means."""

    sort: str = SORTS[0]
    page: int = 1
    per_page: int = 25
    since: datetime | None = None
    #: the ``since=`` value as given (``24h`` or a time), for links
    since_param: str = "24h"

    def params(self, **changes: str | int | None) -> dict[str, str]:
        """This listing's URL parameters (defaults left out), ``changes`` applied."""
        values: dict[str, Any] = {"sort": self.sort, "page": self.page, "since": self.since_param}
        values |= changes
        defaults = {"sort": SORTS[0], "page": 1, "since": "24h"}
        return {k: str(v) for k, v in values.items() if v is not None and v != defaults[k]}


@dataclass(frozen=True)
class Page:
    now: datetime
    filters: Filters
    opened: Sequence[IncidentView]
    resolved: Sequence[IncidentView]
    stats: Stats
    #: Filter name -> the values seen in the range, for the form's choices.
    choices: dict[str, list[str]]
    #: Sink -> its rows waiting for delivery (the freshness strip; empty when all went out).
    outbox: Mapping[str, Backlog] = field(default_factory=dict)
    #: unrotated credentials ending within 30 days, soonest first (the credential expiry forecast)
    expiring: Sequence[Expiring] = ()
    listing: Listing = Listing()
    #: open and resolved incidents matching the filters (and the search)
    counts: Mapping[str, int] = field(default_factory=dict)
    summary: Summary = field(default_factory=lambda: Summary({}, 0, 0))
    sources: Sequence[SourceHealth] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.counts.get("open", 0) // self.listing.per_page))


@dataclass(frozen=True)
class IncidentPage:
    now: datetime
    incident: IncidentView
    steps: Sequence[Step]
    children: Sequence[IncidentView]
    entry: Entry | None


@dataclass(frozen=True)
class CodePage:
    now: datetime
    entry: Entry
    #: open incidents of this code (the top level), and how many
    opened: Sequence[IncidentView]
    open_count: int
    known_related: frozenset[str] = frozenset()


def choices_of(stats: Stats) -> dict[str, list[str]]:
    """The filter form's choices: every code, source and workspace the range's numbers know."""
    return {
        "source": sorted(g.name for g in stats.sources),
        "severity": list(SEVERITIES),
        "code": sorted((g.name for g in stats.codes), key=lambda c: (len(c), c)),
        "workspace": list(stats.container_names),
    }


def render_page(page: Page) -> str:
    stats = page.stats
    colours = charts.code_colours([g.name for g in stats.codes])
    f, listing = page.filters, page.listing

    def link(**changes: str | int | None) -> str:
        """``/`` with these filters and listing, ``changes`` applied (a filter change goes to page 1)."""
        own = {k: changes.pop(k) for k in ("sort", "page", "since") if k in changes}
        if changes:
            own.setdefault("page", None)
        filters = {k: None if v is None else str(v) for k, v in changes.items()}
        query = "&".join(q for q in (f.query(**filters), urlencode(listing.params(**own))) if q)
        return "/?" + query if query else "/"

    context = {
        "page": page,
        "f": f,
        "listing": listing,
        "stats": stats,
        "link": link,
        "options": _options(page),
        "chosen": _chosen(f),
        "since_choices": SINCE_CHOICES,
        "sorts": {"severity": "Severity", "code": "Code", "first": "Since", "last": "Last failure"},
        "legend": [(charts.swatch(colour), code, _short(stats, code)) for code, colour in colours.items()],
        "charts": {
            name: {width: draw(width) for width in (charts.NARROW, charts.WIDE)}
            for name, draw in _charts(stats, colours).items()
        },
        **_helpers(page.now),
    }
    return _template("page.html").render(context)


def render_incident(page: IncidentPage) -> str:
    return _template("incident.html").render({"page": page, "inc": page.incident, **_helpers(page.now)})


def render_code(page: CodePage) -> str:
    return _template("code.html").render({"page": page, "e": page.entry, **_helpers(page.now)})


def error_page(message: str, title: str = "Bad filter", status_text: str = "") -> str:
    """A page for a request that cannot be answered (a filter not understood, an unknown id)."""
    return str(
        Markup(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>aadsts-enricher: {}</title>"
            '<link rel="stylesheet" href="/static/dashboard.css"></head><body><main id="main">'
            '<h1>{}</h1><p class="error">{}</p><p><a href="/">Back to the overview</a></p>'
            "</main></body></html>"
        ).format(title, title, message or status_text)
    )


def when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def ago(at: datetime, now: datetime) -> str:
    delta = now - at
    if delta < timedelta(minutes=1):
        return "just now"
    return describe_duration(delta) + " ago"


def time_tag(at: datetime | None, now: datetime | None = None) -> Markup:
    """``<time>`` in UTC; the script shows it in the browser's zone and keeps UTC as the tooltip."""
    if at is None:
        return Markup("")
    text = when(at) + (f" ({ago(at, now)})" if now else "")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        at.astimezone(UTC).isoformat(), when(at), text
    )


def _helpers(now: datetime) -> dict[str, Any]:
    return {
        "now": now,
        "source_label": lambda s: SOURCE_LABEL.get(s, s),
        "when": when,
        "t": lambda at, rel=False: time_tag(at, now if rel else None),
        "days_until": lambda at: max(0, (at - now).days),
        "ago": lambda at: ago(at, now),
        "lasted": lambda seconds: (
            describe_duration(timedelta(seconds=seconds)) if seconds is not None else ""
        ),
        "code_url": lambda code: "/codes/" + quote(code, safe=""),
        "incident_url": lambda iid: "/incidents/" + quote(iid, safe=""),
        "colour": charts.code_colour,
        "signin_cause": lambda signin: scrub(cause_line(signin)),
        "swatch": lambda code: charts.swatch(charts.code_colour(code)),
    }


def _charts(stats: Stats, colours: dict[str, str]) -> dict[str, Callable[[int], Markup]]:
    return {
        "per_day": lambda w: charts.failures_per_day(stats.days, colours, width=w),
        "by_source": lambda w: charts.horizontal_bars(
            "by-source", stats.sources, charts.SOURCE_COLOURS, "Failures by source", width=w
        ),
        "containers": lambda w: charts.horizontal_bars(
            "top-containers",
            stats.containers,
            charts.SOURCE_COLOURS,
            "Top failing workspaces and factories",
            width=w,
        ),
        "resolve": lambda w: charts.resolve_histogram(stats.resolve.buckets, width=w),
    }


def _options(page: Page) -> dict[str, list[Option]]:
    """Each filter's choices: the values in the range, plus chosen ones that are not among them
    (from a shared link, or a value with no incident in this range)."""
    chosen = _chosen(page.filters)
    out: dict[str, list[Option]] = {}
    for name, values in page.choices.items():
        show = _LABEL.get(name, str)
        extra = [v for v in chosen[name] if v not in values]
        out[name] = [(v, show(v)) for v in [*values, *extra]]
    out["range"] = [(r, f"last {r}") for r in RANGES]
    if page.filters.range not in RANGES:
        out["range"].append((page.filters.range, f"last {page.filters.range}"))
    return out


def _chosen(f: Filters) -> dict[str, tuple[str, ...]]:
    return {"source": f.sources, "severity": f.severities, "code": f.codes, "workspace": f.workspaces}


def _short(stats: Stats, code: str) -> str:
    if code == charts.OTHER:
        return "other codes"
    return next((g.label for g in stats.codes if g.name == code), "")


@cache
def _template(name: str) -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("enricher.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name)
