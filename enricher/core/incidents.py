"""Incident lifecycle, Alertmanager-style, as pure functions of (state, event, now).

An incident is one problem: by default one item failing with one code (``group_by``). Failures
while it is open only count up (dedup). A success of the same item resolves it. Every transition
that deserves a message becomes a :class:`Pending` notification, which waits ``group_wait`` so a
burst of incidents with the same code becomes one message listing the items, and after a batch
went out the next one of that kind waits ``group_interval``. Open incidents are re-announced every
``repeat_interval``. An incident that changes state ``changes`` times within ``window`` is flapping:
one "flapping" message, then silence until it has been stable for a whole window. Silences and
maintenance windows hold pending messages back (they are sent when the mute ends, if still true);
an incident that opens and resolves while nobody was told produces no message at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from enricher.core.book import SCHEDULE_LIMIT, Book, Incident, Pending, Policy, Scope, State
from enricher.core.signin import cause_line, name_policy
from enricher.core.wording import counted
from enricher.models import Alert, FixStep
from enricher.notification import ItemRef, Kind, Notification, content_of, labels_of

__all__ = [
    "SCHEDULE_LIMIT",
    "Book",
    "Incident",
    "Pending",
    "Policy",
    "Scope",
    "State",
    "batch_tenant",
    "family_of",
    "fingerprint_of",
    "flush",
    "on_failure",
    "on_success",
    "queue_notification",
    "tick",
]


def fingerprint_of(alert: Alert, group_by: Iterable[str]) -> str:
    run = alert.run
    values = {
        "tenant": run.tenant,
        "source": str(run.source),
        "container": run.container_id,
        "item": f"{run.container_id}/{run.item_id}",
        "code": alert.code,
    }
    return hashlib.sha256("|".join(f"{k}={values[k]}" for k in group_by).encode()).hexdigest()[:20]


def on_failure(
    book: Book,
    alert: Alert,
    now: datetime,
    policy: Policy,
    *,
    streak: int | None = None,
    schedule_enabled: bool = True,
    root_cause: dict[str, str] | None = None,
) -> Incident:
    """Record a failed run with a code: open, count up, or reopen (maybe flapping)."""
    run = alert.run
    failed_at = run.ended_at or run.started_at or now
    key = fingerprint_of(alert, policy.group_by)
    content = content_of(alert, streak, schedule_enabled, SCHEDULE_LIMIT)
    item = ItemRef.of_run(run, next((link.url for link in alert.links[2:]), ""))
    old = book.incidents.get(key)
    if old is None:
        inc = Incident(
            id=f"{key}-{int(now.timestamp())}",
            fingerprint=key,
            state="open",
            code=alert.code,
            severity=alert.severity,
            tenant=run.tenant,
            source=str(run.source),
            items=(item,),
            item_keys=(run.item_key,),
            first_seen=failed_at,
            last_seen=failed_at,
            last_failure_at=failed_at,
            count=1,
            content=content,
            labels=labels_of(alert),
            changes=(now,),
            root_cause=root_cause,
        )
        _queue(book, inc, "firing", now)
    elif old.state == "open":
        items, keys = _add_item(old, item, run.item_key)
        inc = dataclasses.replace(
            old,
            count=old.count + 1,
            last_seen=max(old.last_seen, failed_at),
            items=items,
            item_keys=keys,
            last_failure_at=max(old.last_failure_at, failed_at),
            content=content,
            severity=alert.severity,
        )
    else:
        inc = dataclasses.replace(
            old,
            count=old.count + 1,
            last_seen=failed_at,
            last_failure_at=failed_at,
            resolved_at=None,
            content=content,
            severity=alert.severity,
        )
        inc = _transition(book, inc, "open", now, policy)
    book.put(inc)
    return inc


def on_success(
    book: Book, item_key: str, succeeded_at: datetime, now: datetime, policy: Policy
) -> list[Incident]:
    """A run of ``item_key`` succeeded: resolve the open incidents whose failures it follows."""
    resolved: list[Incident] = []
    listing = [book.incidents[fp] for fp in book.open_items.get(item_key, ())]
    for inc in listing:
        if inc.children or succeeded_at < inc.last_failure_at:
            continue
        new = _transition(book, dataclasses.replace(inc, resolved_at=succeeded_at), "resolved", now, policy)
        book.put(new)
        resolved.append(new)
    freed = {inc.parent for inc in resolved}
    for parent in listing:
        if parent.children and parent.id in freed:
            resolved.extend(_release(book, parent, item_key, succeeded_at, now, policy))
    return resolved


def _release(
    book: Book, parent: Incident, item_key: str, succeeded_at: datetime, now: datetime, policy: Policy
) -> list[Incident]:
    """A child of ``parent`` recovered: drop it from the failing list; the last one resolves it."""
    at = parent.item_keys.index(item_key)
    name = parent.items[at].item_name if at < len(parent.items) else item_key
    new = dataclasses.replace(
        parent,
        items=parent.items[:at] + parent.items[at + 1 :],
        item_keys=parent.item_keys[:at] + parent.item_keys[at + 1 :],
        recovered=(*parent.recovered, (name, succeeded_at.isoformat()))[-50:],
    )
    if new.item_keys:
        book.put(new)
        return []
    new = dataclasses.replace(new, items=parent.items[at : at + 1])  # a resolved message names one
    new = _transition(book, dataclasses.replace(new, resolved_at=succeeded_at), "resolved", now, policy)
    book.put(new)
    return [new]


def _transition(book: Book, inc: Incident, state: State, now: datetime, policy: Policy) -> Incident:
    """Move ``inc`` to ``state`` and queue what the people watching need to hear, if anything.

    Only a change from what they were last told is worth a message: an unsent "resolved" cancelled
    by a new failure, or an unsent "firing" cancelled by a success, leaves nothing to say.
    """
    changes = _recent((*inc.changes, now), now, policy.flap_window)
    new = dataclasses.replace(inc, state=state, changes=changes)
    waiting = book.unqueue(inc.fingerprint)
    if inc.flapping:
        if waiting is not None:
            book.queue(waiting)  # a flapping notice already queued stays queued
    elif len(changes) >= policy.flap_changes:
        new = dataclasses.replace(new, flapping=True)
        _queue(book, new, "flapping", now)
    elif (state == "open") != (inc.notified == "firing"):
        _queue(book, new, "firing" if state == "open" else "resolved", now)
    return new


def tick(book: Book, now: datetime, policy: Policy) -> None:
    """Time-driven transitions: reminders, and the end of flapping once an incident is stable."""
    for inc in list(book.incidents.values()):
        if inc.flapping and (not inc.changes or now - inc.changes[-1] >= policy.flap_window):
            settled = dataclasses.replace(inc, flapping=False, changes=())
            book.put(settled)
            if settled.notified != "none":  # say where it settled, since people last heard "flapping"
                _queue(book, settled, "firing" if settled.state == "open" else "resolved", now)
        elif (
            inc.state == "open"
            and inc.notified == "firing"
            and not inc.flapping
            and inc.fingerprint not in book.pending
            and inc.last_notified_at is not None
            and now - inc.last_notified_at >= policy.repeat_interval
        ):
            _queue(book, inc, "reminder", now)


def flush(
    book: Book, now: datetime, policy: Policy, muted: Callable[[Mapping[str, str], datetime], bool]
) -> list[Notification]:
    """Notifications that are due: one per batch (tenant + code + kind), muted ones held back."""
    batches: dict[str, list[Pending]] = {}
    for p in book.pending.values():
        batches.setdefault(p.batch, []).append(p)
    out: list[Notification] = []
    for batch, pending in sorted(batches.items(), key=lambda kv: min(p.created_at for p in kv[1])):
        if now - min(p.created_at for p in pending) < policy.group_wait:
            continue
        last = book.last_flush.get(batch)
        if last is not None and now - last < policy.group_interval:
            continue
        ready = [p for p in pending if not muted(book.incidents[p.fingerprint].labels, now)]
        if not ready:
            continue
        out.append(_notify(book, ready, now))
        book.last_flush[batch] = now
        for p in ready:
            book.unqueue(p.fingerprint)
    return out


def _notify(book: Book, pending: list[Pending], now: datetime) -> Notification:
    kind = pending[0].kind
    incidents = [book.incidents[p.fingerprint] for p in pending]
    first = incidents[0]
    items = tuple(item for inc in incidents for item in (inc.items[:20] if inc.children else inc.items))
    ident = hashlib.sha256("|".join(f"{i.id}:{i.seq + 1}" for i in incidents).encode()).hexdigest()[:16]
    for inc in incidents:
        told: Literal["firing", "resolved", "flapping"] = (  # an update is told as firing
            "flapping" if kind == "flapping" else "resolved" if inc.state == "resolved" else "firing"
        )
        book.put(dataclasses.replace(inc, seq=inc.seq + 1, notified=told, last_notified_at=now))
    content = dict(first.content)
    signin = _shared_signin(incidents)
    if signin:  # the cause is known: say it, and name the policy where the steps say "the policy"
        content["signin"] = signin
        content["cause"] = cause_line(signin)
        content["fixes"] = [
            {"step": f.step, "command": f.command}
            for f in name_policy([FixStep(**f) for f in content.get("fixes") or ()], signin)
        ]
    if kind == "update" and signin and not first.children:  # the only update a lone item gets
        content["title"] = f"Cause found: {content.get('title', first.code)}"
    if first.children:
        content.update(family_of(first))
    elif len(items) > 1:
        content["title"] = f"AADSTS{first.code}: {content['short']} - {counted(len(items), 'item')}"
    resolved_at = first.resolved_at if kind == "resolved" else None
    return Notification.from_dict(
        {
            **content,
            "id": f"{kind}-{ident}",
            "incident_id": first.id,
            "kind": kind,
            "items": [dataclasses.asdict(item) for item in items],
            "first_seen": min(i.first_seen for i in incidents).isoformat(),
            "last_seen": max(i.last_seen for i in incidents).isoformat(),
            "count": sum(i.count for i in incidents),
            "created_at": now.isoformat(),
            "duration": (resolved_at - first.first_seen).total_seconds() if resolved_at else None,
        }
    )


def _shared_signin(incidents: list[Incident]) -> dict[str, Any] | None:
    """The sign-in a notification carries: the one its incidents' sign-ins agree on (the same cause
    line); none when two of them name different causes, rather than one item's cause for all."""
    found = {cause_line(i.signin): i.signin for i in incidents if i.signin}
    return next(iter(found.values())) if len(found) == 1 else None


def _queue(book: Book, inc: Incident, kind: Kind, now: datetime) -> None:
    """Batches never mix causes: a parent goes alone, a lone item only with items of its cause,
    and one whose sign-in is known only with items the same sign-in cause blocked."""
    cause = inc.fingerprint if inc.children else (inc.root_cause or {}).get("value", "")
    batch = f"{inc.tenant}|{inc.code}|{kind}" + (f"|{cause}" if cause else "")
    if inc.signin:
        batch += "|" + hashlib.sha256(cause_line(inc.signin).encode()).hexdigest()[:12]
    book.queue(Pending(inc.fingerprint, kind, batch, now))


queue_notification = _queue


def batch_tenant(batch: str) -> str:
    """The tenant a batch belongs to: its key starts with it (tenant names hold no ``|``)."""
    return batch.split("|", 1)[0]


def family_of(parent: Incident) -> dict[str, Any]:
    """What a parent's notification says beyond its first child's explanation."""
    still = len(parent.item_keys)
    per_container: dict[str, int] = {}
    for item in parent.items:
        per_container[item.container_name] = per_container.get(item.container_name, 0) + 1
    return {
        "title": f"{parent.content.get('title', parent.code)}: {counted(parent.children, 'item')}",
        "children": parent.children,
        "children_sample": [dataclasses.asdict(i) for i in parent.items[:20]],
        "children_failing": still,
        "children_by_container": per_container,
        "recovered": [{"item": name, "at": at} for name, at in parent.recovered[-20:]],
        "root_cause": parent.root_cause,
    }


def _add_item(inc: Incident, item: ItemRef, key: str) -> tuple[tuple[ItemRef, ...], tuple[str, ...]]:
    if key in inc.item_keys:
        return inc.items, inc.item_keys
    return (*inc.items, item)[:50], (*inc.item_keys, key)[:50]


def _recent(changes: tuple[datetime, ...], now: datetime, window: timedelta) -> tuple[datetime, ...]:
    return tuple(c for c in changes if now - c < window)
