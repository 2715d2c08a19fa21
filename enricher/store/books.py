"""The working set of each step, composed from the store's indexed queries.

A poll needs the incidents of the fingerprints and items it just read; a flush needs the incidents
due for a reminder or for the end of flapping and the pending batches old enough to go out. Both
cost what changed, not the size of the book: every query here is answered by an index, and
``save_book`` writes back only what the step touched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

from enricher.core.incidents import Book, Incident, Policy, Scope, batch_tenant
from enricher.store.base import KEEP_RESOLVED_DAYS, Store

_EVER = datetime(1970, 1, 1, tzinfo=UTC)


def poll_book(store: Store, fingerprints: Collection[str], item_keys: Collection[str], now: datetime) -> Book:
    """What a poll can change: the current incident of each fingerprint (open, or resolved
    recently enough to be reopened), the open incidents of each item, and their pending entries."""
    since = now - timedelta(days=KEEP_RESOLVED_DAYS)
    incidents = _oldest_first(
        [*store.current_incidents(fingerprints, since), *store.open_incidents_of(item_keys)]
    )
    return Book.of(incidents, store.pending_for({i.fingerprint for i in incidents}))


def flush_book(store: Store, now: datetime, policy: Policy, scope: Scope | None = None) -> Book:
    """What a flush can change: incidents due for a reminder or done flapping, the batches with a
    notification older than ``group_wait`` (all of their entries, as the batch goes out whole),
    and the pending entries of every incident loaded; of the tenants ``scope`` covers, when given
    (a batch never spans tenants, so a scope splits the book cleanly)."""
    due = store.due_incidents(now - policy.repeat_interval, now - policy.flap_window, scope)
    batches = store.ready_batches(now - policy.group_wait)
    if scope is not None:
        batches = [b for b in batches if scope.covers(batch_tenant(b))]
    pending = {p.fingerprint: p for p in store.pending_in(batches)}
    missing = {i.fingerprint for i in due} - pending.keys()
    pending.update({p.fingerprint: p for p in store.pending_for(missing)})
    # a notification held back longer than KEEP_RESOLVED_DAYS still needs its incident
    others = store.current_incidents(pending.keys() - {i.fingerprint for i in due}, _EVER)
    incidents = _oldest_first([*due, *others])
    ordered = sorted(pending.values(), key=lambda p: p.created_at)
    return Book.of(incidents, ordered, store.last_flushes({p.batch for p in ordered}))


def _oldest_first(incidents: Iterable[Incident]) -> list[Incident]:
    unique = {i.id: i for i in incidents}
    return sorted(unique.values(), key=lambda i: (i.first_seen, i.id))
