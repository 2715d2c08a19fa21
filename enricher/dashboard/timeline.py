"""An incident's history as the permalink page tells it. Pure.

The pipeline records an event for each thing that happens to an incident (``enricher.wiring.pipeline``
and ``signin_lookup``): ``failure`` (detail ``run <id>: AADSTS<code>``), ``resolved``,
``children`` (a parent adopted items), ``notify:<kind>`` (detail: the sinks it was queued for,
comma-separated) and ``signin`` (the sign-in event found behind it). The outbox adds what each
sink did with the incident's notifications: delivered, given up on (with the destination's
reason), or waiting to try again. This module turns both into labelled steps, oldest first; the
first failure is marked as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from enricher.dashboard.view import scrub
from enricher.store.base import Event, OutboxRow

#: What each notification kind is called; the event is written when it is queued for its sinks,
#: and the outbox row says what became of it at each.
_NAME = {
    "firing": "Alert",
    "update": "Update",
    "reminder": "Reminder",
    "resolved": "All-clear",
    "flapping": "Flapping notice",
}


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    #: first-failure, failure, notified, delivered, undelivered, retrying, children, signin,
    #: resolved, other
    kind: str
    label: str
    detail: str = ""
    #: for a notification: the sinks it went to
    sinks: tuple[str, ...] = ()


def timeline(events: Sequence[Event], deliveries: Sequence[OutboxRow] = ()) -> list[Step]:
    """``events`` (any order) and ``deliveries`` (the incident's outbox rows) as steps, oldest
    first (ties keep the order they were recorded in, events before deliveries)."""
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
            label = f"{_NAME.get(kind, f'Notification ({kind})')} queued"
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
    outcomes = [step for row in deliveries if (step := _outcome(row)) is not None]
    return sorted([*steps, *outcomes], key=lambda s: s.at)


def _outcome(row: OutboxRow) -> Step | None:
    """What the sink did with one notification so far; nothing while it waits for its first try."""
    what = _NAME.get(row.notification.kind, row.notification.kind)
    tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
    reason = scrub(row.last_error)
    if row.state == "delivered":
        return Step(row.finished_at or row.created_at, "delivered", f"{what} delivered to {row.sink}", tries,
                    (row.sink,))  # fmt: skip
    if row.state == "dead":
        return Step(row.finished_at or row.created_at, "undelivered", f"{what} not delivered to {row.sink}",
                    f"gave up after {tries}: {reason}" if reason else f"gave up after {tries}", (row.sink,))  # fmt: skip
    if row.attempts:
        return Step(row.next_at, "retrying", f"{what} to {row.sink}: next try",
                    f"{tries} failed: {reason}" if reason else f"{tries} failed", (row.sink,))  # fmt: skip
    return None
