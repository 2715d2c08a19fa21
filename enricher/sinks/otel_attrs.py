"""What a notification (and the daemon's stats) become in OpenTelemetry: attributes and observations.

Kept apart from the exporter plumbing in ``otel.py`` so the mapping reads as one table. Our own
names live under ``aadsts_enricher.`` (never under an OTel namespace); the one semantic convention
reused is ``error.type``, the low-cardinality class of the error (``AADSTS53003``). Metric
attributes stay few and bounded (no ids, no item names), per the cardinality advice in
shared/reference/sinks.md 6.2; everything identifying goes on the log record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import Observation

from enricher.notification import Notification
from enricher.sinks import limits, text

AttributeValue = str | bool | int | float | tuple[str, ...]
NS = "aadsts_enricher"


def log_attributes(n: Notification) -> dict[str, AttributeValue]:
    item = n.item if n.items else None
    attrs: dict[str, AttributeValue | None] = {
        "error.type": f"AADSTS{n.code}",
        f"{NS}.notification.id": n.id,
        f"{NS}.notification.kind": n.kind,
        f"{NS}.incident.id": n.incident_id,
        f"{NS}.incident.status": n.status,
        f"{NS}.severity": n.severity,
        f"{NS}.code": n.code,
        f"{NS}.category": n.category,
        f"{NS}.source": n.source,
        f"{NS}.tenant": n.tenant,
        f"{NS}.workspace": item.container_name if item else None,
        f"{NS}.item": item.item_name if item else None,
        f"{NS}.item.type": item.item_type if item else None,
        f"{NS}.item.id": item.item_id if item else None,
        f"{NS}.items": tuple(text.items_lines(n)),
        f"{NS}.count": n.count,
        f"{NS}.first_seen": n.first_seen.isoformat(),
        f"{NS}.last_seen": n.last_seen.isoformat(),
        f"{NS}.title": text.one_line(n.title),
        f"{NS}.cause": text.one_line(n.cause),
        f"{NS}.fixes": tuple(
            f"{s.number}. {s.text}" + (f" $ {text.one_line(s.command)}" if s.command else "")
            for s in text.fix_steps(n)
        ),
        f"{NS}.links": tuple(url for _, url in text.link_pairs(n)),
        f"{NS}.correlation_id": n.correlation_id,
        f"{NS}.trace_id": n.trace_id,
        f"{NS}.error_timestamp": n.error_timestamp,
        f"{NS}.excerpt": text.excerpt(n, limits.EXCERPT) if n.excerpt else None,
        f"{NS}.duration": n.duration.total_seconds() if n.duration is not None else None,
        f"{NS}.schedule.consecutive_failures": n.consecutive_failures,
        f"{NS}.schedule.failures_left": n.schedule_failures_left,
    }
    return {k: v for k, v in attrs.items() if v is not None and v != ""}


def metric_attributes(n: Notification) -> dict[str, str]:
    return {
        f"{NS}.code": n.code,
        f"{NS}.category": n.category,
        f"{NS}.source": n.source,
        f"{NS}.workspace": n.item.container_name if n.items else "",
        f"{NS}.kind": n.kind,
    }


#: Observable instruments fed by the daemon's ``stats()``: (key, name, kind, unit, description, label
#: used when a series is keyed by a plain string).
STATS = (
    ("open_incidents", "aadsts_enricher.incident.open", "updown", "{incident}", "Open incidents", "severity"),
    (
        "notifications",
        "aadsts_enricher.notification.outcomes",
        "counter",
        "{notification}",
        "Notification deliveries by sink and outcome (cumulative)",
        "sink",
    ),
    (
        "outbox_depth",
        "aadsts_enricher.outbox.depth",
        "updown",
        "{notification}",
        "Waiting in the outbox",
        "sink",
    ),
)


def observations(value: Any, label: str) -> list[Observation]:
    """Observations from one ``stats()`` entry: a number, or series keyed by a label tuple
    (``(("sink", "slack"), ("outcome", "delivered"))``, the daemon's Metrics.series shape) or by
    a plain string (taken as ``label``). Label names get the ``aadsts_enricher.`` prefix."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [Observation(value)]
    if not isinstance(value, Mapping):
        return []
    found = []
    for key, number in value.items():
        if not isinstance(number, int | float):
            continue
        pairs = key if isinstance(key, tuple) else ((label, key),)
        attrs = {f"aadsts_enricher.{k}": str(v) for k, v in pairs}
        found.append(Observation(number, attrs))
    return found
