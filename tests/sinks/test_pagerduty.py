"""PagerDuty Events API v2: trigger, re-trigger, resolve, and the test round trip."""

from __future__ import annotations

import dataclasses

from enricher.sinks import limits
from enricher.sinks.pagerduty import SEVERITY, dedup_key, resolve, trigger
from tests.sinks.conftest import ROUTING_KEY, assert_golden, firing, make_sink, resolved
from tests.sinks.servers import Receiver, Reply

ACCEPTED = Reply(202, b'{"status":"success","message":"Event processed","dedup_key":"k"}')


def test_trigger_golden() -> None:
    assert_golden("pagerduty_trigger", trigger(firing(), ROUTING_KEY))


def test_resolve_golden() -> None:
    """Resolve carries only routing_key, dedup_key and event_action."""
    event = resolve(resolved(), ROUTING_KEY)
    assert_golden("pagerduty_resolve", event)
    assert set(event) == {"routing_key", "dedup_key", "event_action"}


def test_severity_mapping() -> None:
    assert SEVERITY == {
        "critical": "critical",
        "high": "error",
        "medium": "warning",
        "low": "info",
        "info": "info",
    }
    for ours, theirs in SEVERITY.items():
        assert trigger(firing(severity=ours), ROUTING_KEY)["payload"]["severity"] == theirs


def test_limits() -> None:
    """summary <= 1024; a long incident id becomes a hashed dedup_key <= 255."""
    event = trigger(firing(title="t" * 5000, incident_id="i" * 600), ROUTING_KEY)
    assert len(event["payload"]["summary"]) == limits.PAGERDUTY_SUMMARY
    assert len(event["dedup_key"]) <= limits.PAGERDUTY_DEDUP_KEY and event["dedup_key"].startswith("sha256:")


def test_lifecycle_uses_one_dedup_key(receiver: Receiver) -> None:
    """Firing and reminder trigger (PagerDuty merges them), resolved resolves: all one key."""
    receiver.answer(ACCEPTED, ACCEPTED, ACCEPTED)
    sink = make_sink("pagerduty", receiver.url)
    reminder = dataclasses.replace(firing(), id="reminder-1", kind="reminder")
    results = [sink.send(n) for n in (firing(), reminder, resolved())]
    sink.close()
    assert all(r.ok and r.status == 202 for r in results)
    events = [r.json() for r in receiver.requests]
    assert [e["event_action"] for e in events] == ["trigger", "trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {dedup_key(firing())}
    assert receiver.requests[0].path == "/v2/enqueue"


def test_test_notification_triggers_then_resolves(receiver: Receiver) -> None:
    """test-sink leaves no open PagerDuty alert behind."""
    from datetime import UTC, datetime

    from enricher.sinks.sample import make_test_notification

    receiver.answer(ACCEPTED, ACCEPTED)
    sink = make_sink("pagerduty", receiver.url)
    result = sink.send(make_test_notification(datetime(2025, 1, 1, tzinfo=UTC)))
    sink.close()
    assert result.ok and "test alert resolved again" in result.detail
    assert [r.json()["event_action"] for r in receiver.requests] == ["trigger", "resolve"]


def test_400_detail_shows_pagerduty_errors(receiver: Receiver) -> None:
    receiver.answer(
        Reply(
            400,
            b'{"status":"invalid event","message":"Event object is invalid","errors":["\'summary\' is too long"]}',
        )
    )
    sink = make_sink("pagerduty", receiver.url)
    result = sink.send(firing())
    sink.close()
    assert not result.ok and not result.retryable
    assert "summary' is too long" in result.detail and "PagerDuty rejected the event" in result.detail
