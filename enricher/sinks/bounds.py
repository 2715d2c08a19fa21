"""Every field that comes from outside, bounded per destination before any layout sees it.

Item, workspace, factory, pipeline and activity names, run ids, routing labels and the error
excerpt come from the Azure APIs or from whoever named things there, so any of them can be 100 KB.
``bounded`` returns a copy of the notification with each such field cut (on a word boundary, with
the visible marker) to the destination's bound; titles are cut too because they embed the item
name. The full error text stays in the store (the dashboard shows it) and, up to its larger bound,
in the webhook and JSONL payloads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from enricher.notification import ItemRef, Notification
from enricher.sinks import limits
from enricher.sinks.text import truncate


@dataclass(frozen=True)
class Bounds:
    name: int  #: item, workspace/factory, item type, run id, label values (characters)
    text: int  #: the error excerpt
    title: int  #: title and short title, which embed the item name


#: Per destination. Chat and e-mail keep names readable; machine payloads keep more.
BOUNDS: dict[str, Bounds] = {
    "slack": Bounds(name=200, text=limits.EXCERPT, title=limits.SLACK_HEADER),
    "teams": Bounds(name=200, text=limits.EXCERPT, title=300),
    "email": Bounds(name=300, text=limits.EXCERPT, title=limits.EMAIL_SUBJECT),
    "pagerduty": Bounds(name=limits.PAGERDUTY_FIELD, text=limits.EXCERPT, title=limits.PAGERDUTY_SUMMARY),
    "console": Bounds(name=300, text=limits.EXCERPT, title=500),
    "otel": Bounds(name=500, text=limits.WEBHOOK_EXCERPT, title=1000),
    "webhook": Bounds(name=500, text=limits.WEBHOOK_EXCERPT, title=1000),
    "jsonl": Bounds(name=500, text=limits.WEBHOOK_EXCERPT, title=1000),
    "alertmanager": Bounds(name=500, text=limits.EXCERPT, title=1000),
}


def _item(i: ItemRef, b: Bounds) -> ItemRef:
    return dataclasses.replace(
        i,
        container_name=truncate(i.container_name, b.name),
        item_name=truncate(i.item_name, b.name),
        item_type=truncate(i.item_type, min(b.name, 100)),
        item_id=truncate(i.item_id, b.name),
        container_id=truncate(i.container_id, b.name),
        run_id=truncate(i.run_id, b.name),
    )


def bounded(n: Notification, b: Bounds) -> Notification:
    """``n`` with every outside field within ``b`` (the same object when nothing is too long)."""
    items = tuple(_item(i, b) for i in n.items)
    labels = {k: truncate(v, b.name) for k, v in n.labels.items()}
    title, short, excerpt = (
        truncate(n.title, b.title),
        truncate(n.short, b.title),
        truncate(n.excerpt, b.text),
    )
    if (items, labels, title, short, excerpt) == (n.items, n.labels, n.title, n.short, n.excerpt):
        return n
    return dataclasses.replace(n, items=items, labels=labels, title=title, short=short, excerpt=excerpt)
