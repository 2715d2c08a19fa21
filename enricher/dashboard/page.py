"""View model -> the dashboard's HTML. Pure: the route glue hands in everything, including ``now``.

The template (``templates/page.html``) runs with autoescaping on and ``StrictUndefined``, so every
value is escaped unless it is :class:`~markupsafe.Markup` (only the SVG charts from
``charts.py`` are), and a typo in a field name fails the render instead of printing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

import jinja2
from markupsafe import Markup

from enricher.core.forecast import Expiring
from enricher.core.kb_schema import SEVERITIES
from enricher.dashboard import charts
from enricher.dashboard.filters import RANGES, Filters
from enricher.dashboard.stats import Counted, Stats
from enricher.dashboard.view import SOURCE_LABEL, IncidentView
from enricher.notification import describe_duration
from enricher.store.base import Backlog

Option = tuple[str, str]  # (value, label)
_LABEL: dict[str, Callable[[str], str]] = {
    "source": lambda s: SOURCE_LABEL.get(s, s),
    "code": lambda c: f"AADSTS{c}",
}


@dataclass(frozen=True)
class Page:
    now: datetime
    filters: Filters
    opened: Sequence[IncidentView]
    resolved: Sequence[IncidentView]
    stats: Stats
    #: Filter name -> the values seen in the range, for the form's drop-downs.
    choices: dict[str, list[str]]
    #: Sink -> its rows waiting for delivery (the freshness strip; empty when all went out).
    outbox: Mapping[str, Backlog] = field(default_factory=dict)
    #: unrotated credentials ending within 30 days, soonest first (the credential expiry forecast)
    expiring: Sequence[Expiring] = ()


def choices_of(views: Sequence[Counted]) -> dict[str, list[str]]:
    return {
        "source": sorted({v.source for v in views}),
        "severity": [s for s in SEVERITIES if any(v.severity == s for v in views)],
        "code": sorted({v.code for v in views}, key=lambda c: (len(c), c)),
        "workspace": sorted({w for v in views for w in v.workspaces}, key=str.casefold),
    }


def render_page(page: Page) -> str:
    stats = page.stats
    colours = charts.code_colours([g.name for g in stats.codes])
    context = {
        "page": page,
        "f": page.filters,
        "stats": stats,
        "options": _options(page),
        "current": _current(page.filters),
        "legend": [(charts.swatch(colour), code, _short(stats, code)) for code, colour in colours.items()],
        "charts": {
            "per_day": charts.failures_per_day(stats.days, colours),
            "by_source": charts.horizontal_bars(
                "by-source", stats.sources, charts.SOURCE_COLOURS, "Failures by source"
            ),
            "containers": charts.horizontal_bars(
                "top-containers",
                stats.containers,
                charts.SOURCE_COLOURS,
                "Top failing workspaces and factories",
                width=1100,
            ),
            "resolve": charts.resolve_histogram(stats.resolve.buckets),
        },
        "source_label": lambda s: SOURCE_LABEL.get(s, s),
        "when": when,
        "days_until": lambda at: max(0, (at - page.now).days),
        "ago": lambda at: ago(at, page.now),
        "lasted": lambda seconds: (
            describe_duration(timedelta(seconds=seconds)) if seconds is not None else ""
        ),
    }
    return _template().render(context)


def error_page(message: str) -> str:
    """A page for a request whose filters could not be read (HTTP 400)."""
    return str(
        Markup(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>aadsts-enricher</title>'
            '<link rel="stylesheet" href="/static/dashboard.css"></head><body><main>'
            '<h1>Bad filter</h1><p class="error">{}</p><p><a href="/">Show everything</a></p>'
            "</main></body></html>"
        ).format(message)
    )


def when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def ago(at: datetime, now: datetime) -> str:
    delta = now - at
    if delta < timedelta(minutes=1):
        return "just now"
    return describe_duration(delta) + " ago"


def _options(page: Page) -> dict[str, list[Option]]:
    """Each drop-down: the values in the range, plus the current choice when it is not among them
    (several values from a shared link, or a value with no incident in this range)."""
    current = _current(page.filters)
    out: dict[str, list[Option]] = {}
    for name, values in page.choices.items():
        show = _LABEL.get(name, str)
        options = [(v, show(v)) for v in values]
        if current[name] and current[name] not in values:
            options.append((current[name], show(current[name])))
        out[name] = options
    out["range"] = [(r, f"last {r}") for r in RANGES]
    if page.filters.range not in RANGES:
        out["range"].append((page.filters.range, f"last {page.filters.range}"))
    return out


def _current(f: Filters) -> dict[str, str]:
    """What each drop-down shows as chosen (several workspaces are kept as hidden fields)."""
    return {
        "source": ",".join(f.sources),
        "severity": ",".join(f.severities),
        "code": ",".join(f.codes),
        "workspace": f.workspaces[0] if len(f.workspaces) == 1 else "",
    }


def _short(stats: Stats, code: str) -> str:
    if code == charts.OTHER:
        return "other codes"
    return next((g.label for g in stats.codes if g.name == code), "")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("enricher.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("page.html")
