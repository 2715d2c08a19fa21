"""What a sink receives: one notification about one incident (or a burst of them), ready to render.

A notification is self-contained: it carries the explanation, the fix steps with IDs filled in, the
links and the items, so it can sit in the outbox as JSON, survive a restart and be rendered by any
sink later without the knowledge base or the API data at hand. ``id`` is stable for a given incident
and transition, so a retry or a second replica produces the same ``webhook-id``, PagerDuty
``dedup_key`` and e-mail ``Message-ID``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.records import RunRecord
from enricher.models import Alert, FixStep, Link

Kind = Literal["firing", "reminder", "resolved", "flapping", "test", "update", "credential_expiry"]


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One failing item listed in a notification (a burst lists several)."""

    source: str
    container_name: str
    item_name: str
    item_type: str
    item_id: str = ""
    container_id: str = ""
    run_id: str = ""
    url: str = ""

    @classmethod
    def of_run(cls, run: RunRecord, url: str = "") -> ItemRef:
        """The item a run belongs to, as a notification lists it (with the run, and its page)."""
        return cls(str(run.source), run.container_name, run.item_name, run.item_type, run.item_id,
                   run.container_id, run.run_id, url)  # fmt: skip


_FAMILY = (
    "children",
    "children_sample",
    "children_failing",
    "children_by_container",
    "recovered",
    "root_cause",
)


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """The client secret or certificate a ``credential_expiry`` notification is about."""

    key_id: str
    display_name: str
    type: Literal["secret", "certificate"]
    expires_at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    incident_id: str
    kind: Kind
    severity: str
    code: str
    title: str
    short: str
    summary: str
    cause: str
    fixes: tuple[FixStep, ...]
    source: str
    tenant: str
    items: tuple[ItemRef, ...]
    first_seen: datetime
    last_seen: datetime
    count: int
    created_at: datetime
    category: str = "other"
    name: str = ""
    known: bool = True
    inferred: bool = False
    context_note: str | None = None
    links: tuple[Link, ...] = ()
    correlation_id: str | None = None
    trace_id: str | None = None
    error_timestamp: str | None = None
    duration: timedelta | None = None
    consecutive_failures: int | None = None
    #: How many more failed scheduled refreshes before Power BI disables the schedule (0: disabled).
    schedule_failures_left: int | None = None
    excerpt: str = ""
    #: routing labels: severity, category, code, source, tenant, workspace, item
    labels: dict[str, str] = field(default_factory=dict)
    #: a parent incident's message (one root cause, many items): how many items it adopted, up to
    #: 20 of them, how many still fail, per workspace/factory, which recovered when, and the cause
    children: int | None = None
    children_sample: tuple[ItemRef, ...] = ()
    children_failing: int | None = None
    children_by_container: dict[str, int] = field(default_factory=dict)
    recovered: tuple[dict[str, str], ...] = ()
    root_cause: dict[str, str] | None = None
    #: credential_expiry (and its resolved notice): the app, its credential, whole days left
    app_id: str | None = None
    app_name: str | None = None
    credential: CredentialRef | None = None
    days_left: int | None = None
    #: the sign-in event found behind the failure (``enricher.wiring.signin_lookup.payload_of``): id,
    #: event_type, status, policies, ip, location, device, app_id, principal, url
    signin: dict[str, Any] | None = None
    #: a 7000222/700027/7000215 failure: the app's secrets or certificates as Graph lists them
    #: (``enricher.core.credential_facts.facts_for``): app_id, app_name, credentials, note
    app_credentials: dict[str, Any] | None = None

    @property
    def status(self) -> Literal["firing", "resolved"]:
        return "resolved" if self.kind == "resolved" else "firing"

    @property
    def item(self) -> ItemRef:
        return self.items[0]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("first_seen", "last_seen", "created_at"):
            data[key] = getattr(self, key).isoformat()
        data["duration"] = self.duration.total_seconds() if self.duration is not None else None
        data["status"] = self.status
        if self.children is None:  # only a parent's message carries its family
            for key in _FAMILY:
                data.pop(key)
        if self.credential is None:  # only credential_expiry notifications carry these
            for key in ("app_id", "app_name", "credential", "days_left"):
                data.pop(key)
        if self.signin is None:  # only once a sign-in was found
            data.pop("signin")
        if self.app_credentials is None:  # only when Graph told us about the app's credentials
            data.pop("app_credentials")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        data = dict(data)
        data.pop("status", None)
        for key in ("first_seen", "last_seen", "created_at"):
            data[key] = datetime.fromisoformat(data[key])
        if data.get("duration") is not None:
            data["duration"] = timedelta(seconds=float(data["duration"]))
        data["fixes"] = tuple(FixStep(**f) for f in data.get("fixes") or ())
        data["links"] = tuple(Link(**link) for link in data.get("links") or ())
        data["items"] = tuple(ItemRef(**i) for i in data.get("items") or ())
        if data.get("credential"):
            data["credential"] = CredentialRef(**data["credential"])
        data["children_sample"] = tuple(ItemRef(**i) for i in data.get("children_sample") or ())
        data["recovered"] = tuple(data.get("recovered") or ())
        return cls(**data)


def describe_duration(delta: timedelta) -> str:
    """``2 h 5 min`` / ``45 s``: how long an incident lasted, for resolved notifications."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{secs} s"


def content_of(alert: Alert, streak: int | None, schedule_enabled: bool, limit: int) -> dict[str, Any]:
    """The parts of a notification that come from the latest alert of an incident."""
    run = alert.run
    left = None
    if streak is not None:
        left = 0 if not schedule_enabled else max(0, limit - streak)
    finding = alert.detection.primary_finding
    return {
        "severity": alert.severity,
        "code": alert.code,
        "title": alert.title,
        "short": alert.short,
        "summary": alert.summary,
        "cause": alert.causes[0] if alert.causes else "",
        "fixes": [{"step": f.step, "command": f.command} for f in alert.fixes],  # not asdict: hot path
        "source": str(run.source),
        "tenant": run.tenant,
        "category": alert.category,
        "name": alert.name,
        "known": alert.known,
        "inferred": alert.inferred,
        "context_note": alert.context_note,
        "links": [{"label": link.label, "url": link.url} for link in alert.links],
        "correlation_id": alert.correlation_id,
        "trace_id": alert.trace_id,
        "error_timestamp": alert.timestamp,
        "consecutive_failures": streak,
        "schedule_failures_left": left,
        "excerpt": finding.excerpt if finding else "",
        "labels": labels_of(alert),
    }


def labels_of(alert: Alert) -> dict[str, str]:
    """What routes, silences and maintenance windows match on (the incident's and its messages')."""
    run = alert.run
    return {
        "severity": alert.severity,
        "category": alert.category,
        "code": alert.code,
        "source": str(run.source),
        "tenant": run.tenant,
        "workspace": run.container_name,
        "item": run.item_name,
    }


def permission_notice(
    tenant: str,
    about: tuple[str, str],
    ids: tuple[str, str],
    words: tuple[str, str, str, str],
    now: datetime,
) -> Notification:
    """A ``self`` notice: the daemon's own app lacks a permission or licence a feature needs.

    ``about`` is the item (name, type), ``ids`` the notification's and the incident's id (fixed per
    tenant, so the outbox keeps one notice even when the state is lost and it is said again),
    ``words`` the title, short title, summary and cause."""
    item = ItemRef("self", tenant, *about)
    title, short, summary, cause = words
    labels = {
        "severity": "medium",
        "category": "consent_permissions",
        "code": "",
        "source": "self",
        "tenant": tenant,
        "workspace": tenant,
        "item": item.item_name,
    }
    return Notification(
        id=ids[0],
        incident_id=ids[1],
        kind="firing",
        severity="medium",
        code="",
        title=title,
        short=short,
        summary=summary,
        cause=cause,
        fixes=(),
        source="self",
        tenant=tenant,
        items=(item,),
        first_seen=now,
        last_seen=now,
        count=1,
        created_at=now,
        category="consent_permissions",
        labels=labels,
    )
