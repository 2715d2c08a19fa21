"""An incident's history as the permalink page tells it. Pure.

The pipeline records an event for each thing that happens to an incident (``enricher.wiring.pipeline``
and ``signin_lookup``): ``failure`` (detail ``run <id>: AADSTS<code>``), ``resolved``,
``children`` (a parent adopted items), ``notify:<kind>`` (detail: the sinks it was queued for,
comma-separated) and ``signin`` (the sign-in event found behind it). This module turns them into
labelled steps, oldest first; the first failure is marked as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from enricher.store.base import Event

#: What each notification kind is called; the event is written when it is queued for its sinks
#: (the outbox delivers it, with retries; ``/metrics`` counts what was delivered).
_NOTIFY = {
    "firing": "Alert queued",
    "update": "Update queued",
    "reminder": "Reminder queued",
    "resolved": "All-clear queued",
    "flapping": "Flapping notice queued",
}


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    #: first-failure, failure, notified, children, signin, resolved, other
    kind: str
    label: str
    detail: str = ""
    #: for a notification: the sinks it went to
    sinks: tuple[str, ...] = ()


def timeline(events: Sequence[Event]) -> list[Step]:
    """``events`` (any order) as steps, oldest first (ties keep the order they were recorded in)."""
    steps: list[Step] = []
    first = True
    for e in sorted(events, key=lambda e: e.at):
        if e.kind == "failure":
            steps.append(Step(e.at, "first-failure" if first else "failure",
                              "First failure" if first else "Failed again", e.detail))  # fmt: skip
            first = False
        elif e.kind.startswith("notify:"):
            kind = e.kind.partition(":")[2]
            sinks = tuple(s.strip() for s in e.detail.split(",") if s.strip())
            label = _NOTIFY.get(kind, f"Notification ({kind}) queued")
            where = "for " + ", ".join(sinks) if sinks else "for no sink (silenced or not routed)"
            steps.append(Step(e.at, "notified", label, where, sinks))
        elif e.kind == "resolved":
            steps.append(Step(e.at, "resolved", "Resolved", e.detail))
        elif e.kind == "children":
            steps.append(Step(e.at, "children", "Items joined this cause", e.detail))
        elif e.kind == "signin":
            steps.append(Step(e.at, "signin", "Sign-in cause found", e.detail))
        else:
            steps.append(Step(e.at, "other", e.kind, e.detail))
    return steps
