"""Incident hygiene as tables driven by explicit time: no clock is read, no store is needed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Policy, flush, on_failure, on_success, queue_notification, tick
from enricher.core.knowledge import KnowledgeBase, load_knowledge
from enricher.models import Alert

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
POLICY = Policy(
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=4),
    flap_changes=4,
    flap_window=timedelta(hours=1),
)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


def alert(kb: KnowledgeBase, item: str = "ds1", code: str = "53003", at: datetime = T0) -> Alert:
    run = RunRecord(
        Source.POWERBI,
        "contoso",
        "ws1",
        "Finance",
        item,
        f"Model {item}",
        "dataset",
        f"run-{at:%H%M%S}",
        RunStatus.FAILED,
        ended_at=at,
        error_text=f"AADSTS{code}: blocked",
    )
    result = enrich(run, detect(run.error_text), kb)
    assert result is not None
    return result


def key(item: str = "ds1") -> str:
    return f"contoso/powerbi/ws1/{item}"


def never_muted(labels: Mapping[str, str], now: datetime) -> bool:
    return False


def step(book: Book, now: datetime, muted=never_muted, policy: Policy = POLICY) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    tick(book, now, policy)
    return [(n.kind, len(n.items), n.code) for n in flush(book, now, policy, muted)]


class TestDedupAndGrouping:
    def test_repeats_fold_into_one_incident(self, kb: KnowledgeBase) -> None:
        """Five failures of one item with one code: one incident, one message, count 5."""
        book = Book()
        for i in range(5):
            on_failure(book, alert(kb, at=T0 + timedelta(minutes=i)), T0 + timedelta(minutes=i), POLICY)
        assert step(book, T0 + timedelta(minutes=5)) == [("firing", 1, "53003")]
        assert step(book, T0 + timedelta(minutes=30)) == []
        (inc,) = book.incidents.values()
        assert inc.count == 5 and inc.notified == "firing"

    def test_burst_becomes_one_message_after_group_wait(self, kb: KnowledgeBase) -> None:
        book = Book()
        for i, item in enumerate(["a", "b", "c"]):
            on_failure(book, alert(kb, item), T0 + timedelta(seconds=10 * i), POLICY)
        assert step(book, T0 + timedelta(seconds=25)) == []  # still inside group_wait
        assert step(book, T0 + timedelta(seconds=31)) == [("firing", 3, "53003")]

    def test_group_interval_spaces_batches(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb, "a"), T0, POLICY)
        assert step(book, T0 + timedelta(seconds=30)) == [("firing", 1, "53003")]
        on_failure(book, alert(kb, "b"), T0 + timedelta(minutes=1), POLICY)
        assert step(book, T0 + timedelta(minutes=2)) == []  # group_interval not over
        assert step(book, T0 + timedelta(minutes=5, seconds=31)) == [("firing", 1, "53003")]

    def test_different_codes_are_separate_messages(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb, "a", "53003"), T0, POLICY)
        on_failure(book, alert(kb, "b", "7000222"), T0, POLICY)
        assert sorted(step(book, T0 + timedelta(minutes=1))) == [
            ("firing", 1, "53003"),
            ("firing", 1, "7000222"),
        ]


class TestLifecycle:
    def test_resolve_says_how_long(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        step(book, T0 + timedelta(minutes=1))
        on_success(book, key(), T0 + timedelta(hours=2), T0 + timedelta(hours=2), POLICY)
        tick(book, T0 + timedelta(hours=2, minutes=1), POLICY)
        (n,) = flush(book, T0 + timedelta(hours=2, minutes=1), POLICY, never_muted)
        assert n.kind == "resolved" and n.status == "resolved" and n.duration == timedelta(hours=2)

    def test_older_success_does_not_resolve(self, kb: KnowledgeBase) -> None:
        """A success that finished before the failure (out-of-order poll) leaves the incident open."""
        book = Book()
        on_failure(book, alert(kb, at=T0), T0, POLICY)
        assert on_success(book, key(), T0 - timedelta(minutes=5), T0, POLICY) == []

    def test_open_and_resolve_unseen_sends_nothing(self, kb: KnowledgeBase) -> None:
        """Failed then recovered inside group_wait: nobody needs to hear about it."""
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        on_success(book, key(), T0 + timedelta(seconds=10), T0 + timedelta(seconds=10), POLICY)
        assert step(book, T0 + timedelta(minutes=10)) == []

    def test_reminders_every_repeat_interval(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        assert step(book, T0 + timedelta(minutes=1)) == [("firing", 1, "53003")]
        assert step(book, T0 + timedelta(hours=3)) == []
        assert step(book, T0 + timedelta(hours=4, minutes=1)) == []  # queued now, sent after group_wait
        assert step(book, T0 + timedelta(hours=4, minutes=2)) == [("reminder", 1, "53003")]

    def test_reopen_before_resolved_was_sent_is_silent(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        step(book, T0 + timedelta(minutes=1))
        on_success(book, key(), T0 + timedelta(minutes=2), T0 + timedelta(minutes=2), POLICY)
        on_failure(
            book,
            alert(kb, at=T0 + timedelta(minutes=2, seconds=10)),
            T0 + timedelta(minutes=2, seconds=10),
            POLICY,
        )
        assert step(book, T0 + timedelta(minutes=20)) == []

    def test_flapping_is_one_message(self, kb: KnowledgeBase) -> None:
        """Fail/succeed every 5 minutes: normal messages until the 4th change, one flapping notice, quiet."""
        book = Book()
        sent = []
        for i in range(12):
            now = T0 + timedelta(minutes=5 * i)
            if i % 2 == 0:
                on_failure(book, alert(kb, at=now), now, POLICY)
            else:
                on_success(book, key(), now, now, POLICY)
            sent += step(book, now + timedelta(minutes=1))
        assert [kind for kind, _, _ in sent] == ["firing", "resolved", "firing", "flapping"]
        assert step(book, T0 + timedelta(hours=3)) == []  # settled after a stable hour: queued...
        assert step(book, T0 + timedelta(hours=3, minutes=1)) == [("resolved", 1, "53003")]  # ...and said


class TestMuting:
    def test_silenced_until_expiry(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        until = T0 + timedelta(hours=1)

        def muted(labels: Mapping[str, str], now: datetime) -> bool:
            return labels["code"] == "53003" and now < until

        assert step(book, T0 + timedelta(minutes=5), muted) == []
        assert step(book, until + timedelta(seconds=1), muted) == [("firing", 1, "53003")]

    def test_muted_incident_that_resolves_is_never_sent(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY)
        step(book, T0 + timedelta(minutes=5), lambda labels, now: True)
        on_success(book, key(), T0 + timedelta(minutes=10), T0 + timedelta(minutes=10), POLICY)
        assert step(book, T0 + timedelta(hours=2)) == []


class TestContent:
    def test_power_bi_schedule_countdown(self, kb: KnowledgeBase) -> None:
        book = Book()
        on_failure(book, alert(kb), T0, POLICY, streak=3)
        (n,) = flush(book, T0 + timedelta(minutes=1), POLICY, never_muted)
        assert (n.consecutive_failures, n.schedule_failures_left) == (3, 1)
        on_failure(book, alert(kb, "x"), T0, POLICY, streak=2, schedule_enabled=False)
        (m,) = flush(book, T0 + timedelta(minutes=10), POLICY, never_muted)
        assert m.schedule_failures_left == 0

    def test_notification_ids_are_stable_and_distinct(self, kb: KnowledgeBase) -> None:
        """The same history gives the same ids (a redone cycle); each message of an incident differs."""

        def run() -> list[str]:
            book = Book()
            on_failure(book, alert(kb), T0, POLICY)
            first = flush(book, T0 + timedelta(minutes=1), POLICY, never_muted)
            on_success(book, key(), T0 + timedelta(hours=1), T0 + timedelta(hours=1), POLICY)
            second = flush(book, T0 + timedelta(hours=2), POLICY, never_muted)
            return [n.id for n in first + second]

        ids = run()
        assert ids == run() and len(set(ids)) == 2

    def test_group_by_code_lists_items_in_one_incident(self, kb: KnowledgeBase) -> None:
        policy = dataclasses.replace(POLICY, group_by=("tenant", "code"))
        book = Book()
        for item in ("a", "b"):
            on_failure(book, alert(kb, item), T0, policy)
        assert len(book.incidents) == 1
        assert step(book, T0 + timedelta(minutes=1), policy=policy) == [("firing", 2, "53003")]


class TestSigninInBatches:
    """A batched notification never gives one item's sign-in cause to the others."""

    @staticmethod
    def signin(policy: str) -> dict[str, object]:
        return {"principal": "svc-refresh", "policies": [{"name": policy, "result": "failure"}]}

    def told(self, kb: KnowledgeBase, items: str) -> Book:
        book = Book()
        for item in items:
            on_failure(book, alert(kb, item=item), T0, POLICY)
        step(book, T0 + timedelta(minutes=1))
        return book

    def test_updates_with_different_causes_go_apart(self, kb: KnowledgeBase) -> None:
        book = self.told(kb, "abc")
        later = T0 + timedelta(minutes=10)
        for item, policy in zip("abc", ("Block untrusted", "Block untrusted", "Require MFA"), strict=True):
            inc = next(i for i in book.incidents.values() if i.item_keys == (key(item),))
            new = dataclasses.replace(inc, signin=self.signin(policy))
            book.put(new)
            queue_notification(book, new, "update", later)
        sent = flush(book, later + timedelta(minutes=1), POLICY, never_muted)
        causes = sorted((len(n.items), n.cause) for n in sent)
        assert causes == [
            (1, 'Conditional Access policy "Require MFA" blocked svc-refresh'),
            (2, 'Conditional Access policy "Block untrusted" blocked svc-refresh'),
        ]

    def test_a_batch_whose_items_disagree_names_no_cause(self, kb: KnowledgeBase) -> None:
        """Sign-ins found while the first message still waited: it goes out without a cause
        rather than with one item's cause for both."""
        book = Book()
        for item, policy in (("a", "Block untrusted"), ("b", "Require MFA")):
            inc = on_failure(book, alert(kb, item=item), T0, POLICY)
            book.put(dataclasses.replace(inc, signin=self.signin(policy)))
        (n,) = flush(book, T0 + timedelta(minutes=1), POLICY, never_muted)
        assert len(n.items) == 2 and n.signin is None
        cause = n.cause or ""  # the knowledge base's general one
        assert "Block untrusted" not in cause and "Require MFA" not in cause
