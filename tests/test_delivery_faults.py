"""Delivery under real faults, seen from real receivers on loopback: Retry-After, pacing, a hung
destination, a restart after a crash mid-send. The workers run on the real clock; every check
reads what the receiver recorded (arrival times, ids), never how long the test took."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enricher.config import DeliveryConfig, WebhookSinkConfig
from enricher.notification import Notification
from enricher.sinks.webhook import WebhookSink
from enricher.store import SQLiteStore
from enricher.wiring.delivery import Deliverer
from tests.sinks.conftest import firing
from tests.sinks.servers import Receiver, Reply

POLICY = DeliveryConfig(
    base_delay=timedelta(milliseconds=200),
    max_delay=timedelta(seconds=2),
    interval=timedelta(milliseconds=100),
)


def now() -> datetime:
    return datetime.now(UTC)


def note(i: int) -> Notification:
    return dataclasses.replace(firing(), id=f"firing-{i}", incident_id=f"inc-{i}")


def hook(name: str, url: str, rate: float = 1000.0, timeout: float = 15.0) -> WebhookSink:
    return WebhookSink(
        WebhookSinkConfig(
            name=name, type="webhook", url=url, rate_per_second=rate, timeout=timedelta(seconds=timeout)
        )
    )


def wait_until(predicate: Callable[[], bool], limit: float = 30.0) -> bool:
    """Polls until true; the limit only bounds a broken run, it is not what the test checks."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.close()


class TestRetryAfterAndPace:
    def test_a_429_pauses_the_destination_for_every_sink_and_row(
        self, store: SQLiteStore, receivers: list[Receiver]
    ) -> None:
        """Two sinks send to one URL; the first answer is 429 Retry-After: 1. No request reaches the
        URL within a second of that answer, from either sink, and sends are spaced to the rate."""
        r = Receiver()
        receivers.append(r)
        r.answer(Reply(429, b"slow down", {"Retry-After": "1"}))
        sinks = {"a": hook("a", r.url + "/same", rate=4.0), "b": hook("b", r.url + "/same", rate=4.0)}
        for i in range(3):
            store.enqueue(note(i), ["a", "b"], now())
        deliverer = Deliverer(store, sinks, POLICY, clock=now)
        deliverer.start()
        try:
            assert wait_until(lambda: store.outbox_depth() == {})
        finally:
            deliverer.shutdown()
        first, *rest = r.requests
        assert len(rest) == 6  # the refused row again, and the five others
        after = [x.at for x in rest if x.at > first.answered]
        assert len(after) >= 5  # at most one request was already on its way when the 429 came
        assert min(after) >= first.answered + 1.0
        # 4 per second for the destination, not per sink: slots are booked 0.25 s apart from the end
        # of the pause, and a request arrives no sooner than its slot, so the last one cannot arrive
        # before this (a lower bound: load can only delay arrivals, never advance them).
        assert max(after) >= first.answered + 1.0 + 0.25 * (len(after) - 1) * 0.95

    def test_the_pause_is_written_to_the_outbox(self, store: SQLiteStore, receivers: list[Receiver]) -> None:
        """A restart honours a Retry-After received before it: every row of the sink waits."""
        r = Receiver()
        receivers.append(r)
        r.answer(Reply(503, b"maintenance", {"Retry-After": "120"}))
        start = now()
        for i in range(3):
            store.enqueue(note(i), ["a"], start)
        Deliverer(store, {"a": hook("a", r.url)}, POLICY, clock=now).deliver_due()
        assert len(r.requests) == 1
        assert all(row.next_at >= start + timedelta(seconds=120) for row in store.outbox(state="pending"))
        assert store.due(start + timedelta(seconds=119)) == []


class TestIsolation:
    def test_a_hung_destination_holds_up_no_other(
        self, store: SQLiteStore, receivers: list[Receiver]
    ) -> None:
        """Slow accepts the request and never answers; meanwhile every row of the healthy sinks is
        delivered, while Slow's request is still open (its row marked in flight)."""
        release = threading.Event()
        hung, ok, ok2 = Receiver(Reply(hold=release)), Receiver(), Receiver()
        receivers.extend([hung, ok, ok2])
        sinks = {
            "hung": hook("hung", hung.url, timeout=60),
            "ok": hook("ok", ok.url),
            "ok2": hook("ok2", ok2.url),
        }
        for i in range(5):
            store.enqueue(note(i), ["hung", "ok", "ok2"], now())
        deliverer = Deliverer(store, sinks, POLICY, clock=now)
        deliverer.start()
        try:
            assert wait_until(lambda: store.outbox_depth() == {"hung": 5})
            assert not release.is_set() and len(hung.requests) == 1  # still open
            assert len(ok.requests) == len(ok2.requests) == 5
            (in_flight,) = [x for x in store.outbox(state="pending") if x.sending_at]
            assert in_flight.sink == "hung"
            release.set()
            assert wait_until(lambda: store.outbox_depth() == {})
        finally:
            release.set()
            deliverer.shutdown()
        assert len(hung.requests) == 5


class TestAtLeastOnce:
    def test_restart_resends_only_the_row_in_flight_with_the_same_key(
        self, tmp_path: Path, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A crash between send and record leaves one row marked; after a restart that row goes
        again with its webhook-id, delivered rows do not, and a log line says a duplicate is possible."""
        r = Receiver()
        receivers.append(r)
        before = SQLiteStore(tmp_path / "state.db")
        for i in range(3):
            before.enqueue(note(i), ["a"], now())
        rows = before.outbox()
        before.mark_delivered(rows[0].id, now())
        before.mark_sending(rows[1].id, now())  # ... and the process died here
        before.close()
        after = SQLiteStore(tmp_path / "state.db")
        deliverer = Deliverer(after, {"a": hook("a", r.url)}, POLICY, clock=now)
        with caplog.at_level(logging.WARNING, "aadsts_enricher.delivery"):
            deliverer.start()
        try:
            assert wait_until(lambda: after.outbox_depth() == {})
        finally:
            deliverer.shutdown()
            after.close()
        assert [x.headers["webhook-id"] for x in r.requests] == ["firing-1", "firing-2"]
        assert any("may arrive twice" in m for m in caplog.messages)
