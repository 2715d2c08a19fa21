"""Durable delivery through the outbox to a real webhook receiver on loopback."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from enricher.config import DeliveryConfig, WebhookSinkConfig
from enricher.metrics import Metrics
from enricher.notification import Notification
from enricher.sinks.webhook import WebhookSink
from enricher.store import MemoryStore
from enricher.wiring.delivery import Deliverer, next_attempt
from tests.fakes import MemorySink
from tests.sinks.conftest import firing
from tests.sinks.servers import Receiver, Reply

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
POLICY = DeliveryConfig(
    max_age=timedelta(hours=1), base_delay=timedelta(seconds=2), max_delay=timedelta(minutes=1)
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def webhook(receiver: Receiver) -> WebhookSink:
    return WebhookSink(WebhookSinkConfig(name="hook", type="webhook", url=receiver.url, rate_per_second=1000))


def notes() -> list[Notification]:
    a1 = dataclasses.replace(firing(), id="firing-a", incident_id="inc-a")
    a2 = dataclasses.replace(a1, id="resolved-a", kind="resolved")
    b1 = dataclasses.replace(firing(), id="firing-b", incident_id="inc-b")
    return [a1, b1, a2]


def drain(deliverer: Deliverer, clock: Clock, rounds: int, step: timedelta = timedelta(minutes=2)) -> None:
    for _ in range(rounds):
        deliverer.deliver_due()
        clock.now += step


def test_down_for_a_while_then_each_once_in_order(receiver: Receiver) -> None:
    clock, store = Clock(), MemoryStore()
    for n in notes():
        store.enqueue(n, ["hook"], clock.now)
    receiver.answer(*[Reply(503, b"down")] * 3)
    metrics = Metrics()
    deliverer = Deliverer(store, {"hook": webhook(receiver)}, POLICY, metrics=metrics, clock=clock, seed=1)
    drain(deliverer, clock, 6)
    assert sorted(r.notification.id for r in store.outbox(state="delivered")) == [
        "firing-a",
        "firing-b",
        "resolved-a",
    ]
    answered = [(r.headers["webhook-id"], r.json()["data"]["id"]) for r in receiver.requests]
    # retries of a notification reuse its webhook-id, so a receiver can de-duplicate them
    assert all(header == body for header, body in answered)
    assert {body for _, body in answered} == {"firing-a", "firing-b", "resolved-a"}
    # in order per incident: nothing of incident a after its resolved message, which came last
    of_a = [body for _, body in answered if body.endswith("-a")]
    assert of_a[-1] == "resolved-a" and of_a.count("resolved-a") == 1
    assert metrics.value("aadsts_enricher_notifications_total", {"sink": "hook", "outcome": "retry"}) >= 1
    assert store.outbox_depth() == {}


def test_one_sink_down_does_not_resend_to_the_others(receiver: Receiver) -> None:
    clock, store = Clock(), MemoryStore()
    memory = MemorySink("memory")
    store.enqueue(notes()[0], ["hook", "memory"], clock.now)
    receiver.answer(Reply(500, b"oops"), Reply(500, b"oops"))
    deliverer = Deliverer(store, {"hook": webhook(receiver), "memory": memory}, POLICY, clock=clock, seed=1)
    drain(deliverer, clock, 4)
    assert [n.id for n in memory.sent] == ["firing-a"]  # once, although the webhook needed three attempts
    assert len(receiver.requests) == 3


def test_retry_after_is_honoured(receiver: Receiver) -> None:
    clock, store = Clock(), MemoryStore()
    store.enqueue(notes()[0], ["hook"], clock.now)
    receiver.answer(Reply(429, b"slow down", {"Retry-After": "300"}))
    deliverer = Deliverer(store, {"hook": webhook(receiver)}, POLICY, clock=clock, seed=1)
    deliverer.deliver_due()
    (row,) = store.outbox(state="pending")
    assert row.next_at - T0 >= timedelta(seconds=300)


def test_permanent_failure_and_old_rows_go_to_the_dead_letter(receiver: Receiver) -> None:
    clock, store = Clock(), MemoryStore()
    store.enqueue(notes()[0], ["hook"], clock.now)
    store.enqueue(notes()[1], ["memory"], clock.now)
    receiver.answer(Reply(400, b"bad payload"))
    memory = MemorySink("memory")
    memory.down = True
    metrics = Metrics()
    deliverer = Deliverer(
        store, {"hook": webhook(receiver), "memory": memory}, POLICY, metrics=metrics, clock=clock
    )
    deliverer.deliver_due()
    assert [r.notification.id for r in store.outbox(state="dead")] == ["firing-a"]
    clock.now += timedelta(hours=2)  # past max_age while still down
    deliverer.deliver_due()
    assert sorted(r.notification.id for r in store.outbox(state="dead")) == ["firing-a", "firing-b"]
    assert metrics.value("aadsts_enricher_notifications_total", {"sink": "memory", "outcome": "dead"}) == 1


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(3)
    waits = [next_attempt(a, None, POLICY, rng).total_seconds() for a in range(10)]
    assert waits[0] <= 2 and waits[3] >= 8 and max(waits) <= 60
    assert next_attempt(0, 90.0, POLICY, rng).total_seconds() == 90.0
