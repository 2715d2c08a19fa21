"""One root cause, one alert: failures of many items that share a cause become one parent incident.

When a service principal's secret expires, every dataset and pipeline signing in with it fails with
the same code. Telling on-call 200 times (or once, with "the app" and no name) does not help; what
helps is "AADSTS7000222 on app `sales-etl` (id ...): 200 items". The knowledge base says, per code,
which keys name the cause (``group_by``: client id, linked service, gateway, data source, tenant,
Conditional Access policy); :func:`root_cause_of` picks the first one the failure has a value for.

:func:`group` runs after a poll applied its runs: open incidents read in that poll with the same
tenant, code and cause join the open parent of that cause (late children: the parent gets an
``update``), or, when there are two or more and no parent is open, become the children of a new
one. The window is "while open": an item left alone by its poll joins the open lone items of
earlier polls with its cause (``siblings``, which the shell reads for the causes :func:`alone`
names), so datasets refreshed at different hours still make one parent. A child's own notifications are inhibited (its pending entry is dropped and it is never told
about); the parent resolves when its last child recovered (``incidents.on_success``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from enricher.core.incidents import Book, Incident, queue_notification
from enricher.core.kb_schema import RootKey
from enricher.models import Alert

#: How many children a parent lists by name (items beyond it are counted, not kept).
MAX_CHILDREN_KEPT = 1000
_NOUNS: dict[str, str] = {
    "client_id": "app",
    "gateway": "gateway",
    "datasource": "data source",
    "linked_service": "linked service",
    "tenant": "tenant",
    "policy": "Conditional Access policy",
}


@dataclass(frozen=True, slots=True)
class RootCause:
    key: RootKey
    value: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "label": self.label}

    def describe(self) -> str:
        """``app `sales-etl` (id 1234...)``: named, never "the app"."""
        noun = _NOUNS[self.key]
        if self.label and self.label != self.value:
            return f"{noun} `{self.label}` (id {self.value})"
        return f"{noun} `{self.value}`"


def root_cause_of(alert: Alert, keys: Iterable[RootKey]) -> RootCause | None:
    """The first of ``keys`` (the code's ``group_by``) that the run or its error text names."""
    run = alert.run
    for key in keys:
        if key == "client_id":
            value = alert.detection.first("client_id") or run.extra.get("client_id", "")
            label = run.extra.get("app_name", "") or value
        elif key == "tenant":
            value, label = run.extra.get("tenant_id", "") or run.tenant, run.tenant
        elif key == "policy":
            value = run.extra.get("ca_policy_id", "")
            label = run.extra.get("ca_policy", "") or value
        else:  # gateway, datasource, linked_service: as the connector read them
            value = run.extra.get(f"{key}_id", "") or run.extra.get(key, "")
            value = "" if value in ("true", "false") else value  # Power BI's gateway flag is no id
            label = run.extra.get(f"{key}_name", "") or value
        if value:
            return RootCause(key, value, label)
    return None


def parent_fingerprint(tenant: str, code: str, cause: RootCause) -> str:
    text = f"parent|{tenant}|{code}|{cause.key}={cause.value}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def group(
    book: Book,
    touched: Iterable[Incident],
    now: datetime,
    failures: Mapping[str, int] | None = None,
    siblings: Iterable[Incident] = (),
) -> list[Incident]:
    """Put the open incidents of one poll under their parents; returns the parents changed.

    ``failures`` says how many failed runs each touched incident (by fingerprint) took in this poll
    (one each when not given): a parent adds those, as its children's own counts are cumulative.
    ``siblings`` are open lone incidents of earlier polls with the cause of one this poll would
    leave alone (:func:`alone` says which causes; the shell reads them): datasets refreshed at
    different hours fail in different polls, and still have one cause.
    """
    counts = dict(failures or {})
    families = _families(touched)
    for sib in siblings:
        pfp = parent_fingerprint_of(sib)
        if pfp in families and sib.fingerprint not in {m.fingerprint for m in families[pfp]}:
            book.know(sib)
            families[pfp].append(sib)
            counts[sib.fingerprint] = sib.count  # the parent has not counted any of its failures
    parents = []
    for pfp, family in families.items():
        members, parent = family, book.incidents.get(pfp)
        if parent is None or parent.state != "open":
            # children of a resolved parent are free again: the cause came back, a new parent speaks
            gone = parent.id if parent is not None else None
            fresh = [m for m in family if m.parent is None or m.parent == gone]
            if len(fresh) < 2:
                for m in fresh:  # one item stands alone, at the top level
                    if m.parent is not None:
                        book.put(dataclasses.replace(m, parent=None))
                continue
            parent = _new_parent(pfp, fresh[0], now)
            members = fresh
        new_failures = sum(counts.get(m.fingerprint, 1) for m in members)
        parents.append(_adopt(book, parent, members, new_failures, now))
    return parents


def alone(book: Book, touched: Iterable[Incident]) -> set[str]:
    """Parent fingerprints of the causes this poll would leave alone: one item, no open parent."""
    lonely = set()
    for pfp, family in _families(touched).items():
        parent = book.incidents.get(pfp)
        if parent is None or parent.state != "open":
            gone = parent.id if parent is not None else None
            if len([m for m in family if m.parent is None or m.parent == gone]) < 2:
                lonely.add(pfp)
    return lonely


def sibling_of(inc: Incident, causes: set[str]) -> bool:
    """Whether a stored incident is an open lone item of one of ``causes`` (parent fingerprints)."""
    return (
        inc.state == "open"
        and inc.parent is None
        and not inc.children
        and bool(inc.root_cause)
        and parent_fingerprint_of(inc) in causes
    )


def _families(touched: Iterable[Incident]) -> dict[str, list[Incident]]:
    families: dict[str, list[Incident]] = {}
    for inc in touched:
        if inc.state == "open" and inc.root_cause and not inc.children:
            families.setdefault(parent_fingerprint_of(inc), []).append(inc)
    return families


def parent_fingerprint_of(inc: Incident) -> str:
    """The parent fingerprint of an incident that has a root cause."""
    return parent_fingerprint(inc.tenant, inc.code, RootCause(**inc.root_cause))  # type: ignore[arg-type]


def _new_parent(pfp: str, first: Incident, now: datetime) -> Incident:
    return dataclasses.replace(
        first,
        id=f"{pfp}-{int(now.timestamp())}",
        fingerprint=pfp,
        items=(),
        item_keys=(),
        count=0,
        changes=(now,),
        notified="none",
        last_notified_at=None,
        seq=0,
        flapping=False,
        parent=None,
        children=0,
        recovered=(),
        resolved_at=None,
    )


def _adopt(book: Book, parent: Incident, members: list[Incident], failures: int, now: datetime) -> Incident:
    """Add ``members`` to the parent's failing list; only items it never had count as new children
    (a child that recovered and fails again is a relapse: back on the list, not counted twice)."""
    items, keys = list(parent.items), list(parent.item_keys)
    new_children = 0
    for child in members:
        for item, key in zip(child.items, child.item_keys, strict=False):
            if key not in keys and len(keys) < MAX_CHILDREN_KEPT:
                items.append(item)
                keys.append(key)
                new_children += child.parent != parent.id
        book.unqueue(child.fingerprint)  # inhibited: the parent speaks for it
        if child.parent != parent.id:
            book.put(dataclasses.replace(child, parent=parent.id))
    worst = min((parent, *members), key=lambda i: _RANK.get(i.severity, 9)).severity
    cause = RootCause(**parent.root_cause)  # type: ignore[arg-type]
    content = dict(parent.content)
    content["title"] = f"AADSTS{parent.code} on {cause.describe()}"
    updated = dataclasses.replace(
        parent,
        items=tuple(items),
        item_keys=tuple(keys),
        children=parent.children + new_children,
        count=parent.count + failures,
        last_seen=max(parent.last_seen, *(m.last_seen for m in members)),
        last_failure_at=max(parent.last_failure_at, *(m.last_failure_at for m in members)),
        severity=worst,
        content=content,
    )
    book.put(updated)
    if parent.notified == "none" and parent.fingerprint not in book.pending:
        queue_notification(book, updated, "firing", now)
    elif new_children and parent.notified == "firing" and parent.fingerprint not in book.pending:
        queue_notification(book, updated, "update", now)
    return updated


_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
