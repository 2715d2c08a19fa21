"""Store rows -> what the dashboard shows: plain, frozen view records, and their JSON form.

Everything here is pure. Text that came from outside (error excerpts, item and workspace names,
titles with item names in them) passes through as data: the page template escapes it and the API
serialises it as JSON strings. Two things are done to it here so neither output can misuse it:
URLs keep only ``http``/``https`` (a ``javascript:`` or ``data:`` link becomes ``""``), and
anything that looks like a credential (bearer tokens, ``client_secret=``, ``sig=``, passwords in
URLs) is replaced by ``***``, the same scrubbing the logs get.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from enricher.core.incidents import Incident
from enricher.core.kb_schema import SEVERITIES
from enricher.logs import Redactor, may_hold_credentials

_REDACT = Redactor().scrub
#: ``<secret-value>`` in a fix command is a placeholder for the admin, not a secret to hide.
_PLACEHOLDER = re.compile(r"(<[a-z][a-z0-9_-]*>)")
_RANK: dict[str, int] = {name: i for i, name in enumerate(SEVERITIES)}
#: What a source calls the thing that holds items.
CONTAINER_KIND = {"adf": "factory", "self": "tenant"}
SOURCE_LABEL = {
    "powerbi": "Power BI",
    "fabric": "Fabric",
    "adf": "Data Factory",
    "synapse": "Synapse",
    "self": "aadsts-enricher",
}


@dataclass(frozen=True, slots=True)
class ItemView:
    source: str
    container_name: str
    container_id: str
    item_name: str
    item_type: str
    item_id: str
    run_id: str
    url: str

    @property
    def container_kind(self) -> str:
        return CONTAINER_KIND.get(self.source, "workspace")


@dataclass(frozen=True, slots=True)
class FixView:
    step: str
    command: str | None


@dataclass(frozen=True, slots=True)
class LinkView:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: str
    state: str
    severity: str
    code: str
    title: str
    short: str
    summary: str
    category: str
    source: str
    tenant: str
    items: tuple[ItemView, ...]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    count: int
    consecutive_failures: int | None
    schedule_failures_left: int | None
    correlation_id: str
    fixes: tuple[FixView, ...]
    links: tuple[LinkView, ...]
    excerpt: str
    flapping: bool
    #: the sign-in event found behind the failure (enricher.wiring.signin_lookup.payload_of), if any
    signin: dict[str, Any] | None = None
    #: a child: the id of the parent incident that lists it
    parent: str | None = None
    #: a parent: how many items it adopted (``items`` are those still failing)
    children: int = 0
    #: the cause its code groups by: ``{"key", "value", "label"}``
    root_cause: Mapping[str, str] | None = None

    @property
    def workspaces(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.container_name for i in self.items if i.container_name))

    @property
    def resolve_seconds(self) -> float | None:
        if self.resolved_at is None:
            return None
        return max(0.0, (self.resolved_at - self.first_seen).total_seconds())

    @property
    def source_label(self) -> str:
        return SOURCE_LABEL.get(self.source, self.source)


def incident_view(inc: Incident) -> IncidentView:
    c = inc.content
    return IncidentView(
        id=inc.id,
        state=inc.state,
        severity=inc.severity if inc.severity in _RANK else "info",
        code=inc.code,
        title=_text(c.get("title")) or f"AADSTS{inc.code}",
        short=_text(c.get("short")),
        summary=_text(c.get("summary")),
        category=_text(c.get("category")),
        source=inc.source,
        tenant=inc.tenant,
        items=tuple(
            ItemView(
                source=i.source,
                container_name=scrub(i.container_name),
                container_id=i.container_id,
                item_name=scrub(i.item_name),
                item_type=i.item_type,
                item_id=i.item_id,
                run_id=i.run_id,
                url=safe_url(i.url),
            )
            for i in inc.items
        ),
        first_seen=inc.first_seen,
        last_seen=inc.last_seen,
        resolved_at=inc.resolved_at,
        count=inc.count,
        consecutive_failures=_int(c.get("consecutive_failures")),
        schedule_failures_left=_int(c.get("schedule_failures_left")),
        correlation_id=_text(c.get("correlation_id")),
        fixes=tuple(
            FixView(_text(f.get("step")), _text(f.get("command")) or None) for f in _dicts(c.get("fixes"))
        ),
        links=tuple(
            LinkView(_text(link.get("label")), url)
            for link in _dicts(c.get("links"))
            if (url := safe_url(_text(link.get("url"))))
        ),
        excerpt=_text(c.get("excerpt")),
        flapping=inc.flapping,
        signin=inc.signin,
        parent=inc.parent,
        children=inc.children,
        root_cause={k: scrub(_text(v)) for k, v in inc.root_cause.items()} if inc.root_cause else None,
    )


#: a control character, a space or a character that could end an HTML attribute or start markup
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\\<>\"'`]")


def safe_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else ``""`` (no ``javascript:``, ``data:``, ...)."""
    url = url.strip()
    if not url or _UNSAFE_IN_URL.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def incident_json(view: IncidentView) -> dict[str, Any]:
    """One incident as ``/api/incidents`` lists it (the README documents every field)."""
    return {
        "id": view.id,
        "state": view.state,
        "severity": view.severity,
        "code": view.code,
        "title": view.title,
        "short": view.short,
        "summary": view.summary,
        "category": view.category,
        "source": view.source,
        "tenant": view.tenant,
        "items": [
            {
                "source": i.source,
                "container_kind": i.container_kind,
                "container_name": i.container_name,
                "container_id": i.container_id,
                "item_name": i.item_name,
                "item_type": i.item_type,
                "item_id": i.item_id,
                "run_id": i.run_id,
                "url": i.url,
            }
            for i in view.items
        ],
        "first_seen": view.first_seen.isoformat(),
        "last_seen": view.last_seen.isoformat(),
        "resolved_at": view.resolved_at.isoformat() if view.resolved_at else None,
        "resolve_seconds": view.resolve_seconds,
        "count": view.count,
        "consecutive_failures": view.consecutive_failures,
        "schedule_failures_left": view.schedule_failures_left,
        "correlation_id": view.correlation_id or None,
        "fixes": [{"step": f.step, "command": f.command} for f in view.fixes],
        "links": [{"label": link.label, "url": link.url} for link in view.links],
        "excerpt": view.excerpt,
        "flapping": view.flapping,
        "signin": view.signin,
        "parent": view.parent,
        "children": view.children,
        "root_cause": dict(view.root_cause) if view.root_cause else None,
    }


@functools.lru_cache(maxsize=4096)
def scrub(text: str) -> str:
    """``text`` with credentials replaced by ``***`` (``<placeholders>`` are left alone). Cached:
    a page of incidents repeats a few knowledge-base texts (title, summary, fixes per code) many
    times; scrubbing them again was about 19 of the 82 ms of ``/api/incidents`` at 100,000."""
    if not may_hold_credentials(text):
        return text
    return "".join(p if _PLACEHOLDER.fullmatch(p) else _REDACT(p) for p in _PLACEHOLDER.split(text))


def _text(value: object) -> str:
    return scrub(value) if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dicts(value: object) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return ()
    return [v for v in value if isinstance(v, Mapping)]
