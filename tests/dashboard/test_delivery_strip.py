"""The dashboard's delivery strip: what waits for each sink, since when, and when it is tried next."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from enricher.dashboard.routes import Dashboard
from enricher.store import MemoryStore
from tests.sinks.conftest import firing

NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)


def strip(store: MemoryStore) -> str:
    status, _, body = Dashboard(store, lambda: NOW).page({})
    assert status == 200
    html = body.decode()
    start = html.index('id="delivery"')
    return html[start : html.index("</ul>", start)]


def test_nothing_waiting() -> None:
    assert "Nothing waiting for delivery" in strip(MemoryStore())


def test_a_sink_that_waits_shows_depth_age_and_next_try() -> None:
    store = MemoryStore()
    store.enqueue(firing(), ["slack", "email"], NOW - timedelta(hours=2))
    store.enqueue(dataclasses.replace(firing(), id="firing-2"), ["slack"], NOW - timedelta(minutes=5))
    (row,) = [r for r in store.due(NOW, sink="slack") if r.notification.id == firing().id]
    store.mark_retry(row.id, NOW + timedelta(minutes=10), "HTTP 429")
    store.defer_sink("slack", NOW + timedelta(minutes=10))
    (email,) = store.due(NOW, sink="email")
    store.mark_delivered(email.id, NOW)
    shown = strip(store)
    assert '<li data-sink="slack" class="bad">' in shown and "<strong>2</strong> waiting for slack" in shown
    assert "oldest 2 h ago" in shown
    assert "2025-04-02 09:10 UTC" in shown
    assert "email" not in shown  # delivered: nothing waits
