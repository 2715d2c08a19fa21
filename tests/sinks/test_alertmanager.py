"""Alertmanager sink against a loopback receiver: the postableAlert body, resolve, re-posting, peers.

The real Alertmanager (grouping, resolving through its own API) is in test_alertmanager_real.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from enricher.errors import ConfigError
from enricher.sinks.alertmanager import AlertmanagerSink
from tests.sinks.conftest import T0, assert_golden, firing, resolved, sink_config
from tests.sinks.servers import Receiver, Reply, free_port

NOW = T0 + timedelta(minutes=1)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(url: str | list[str], clock: Clock | None = None, state: Path | None = None, **extra: Any) -> Any:
    urls = [url] if isinstance(url, str) else url
    config = sink_config("alertmanager", "", urls=urls, external_url="https://enricher.example/", **extra)
    return AlertmanagerSink(config, state_dir=state, clock=clock or Clock())


def posted(receiver: Receiver, index: int = -1) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = receiver.requests[index].json()
    return alerts


class TestBody:
    def test_firing_golden(self, receiver: Receiver) -> None:
        """One postableAlert: our labels, summary / first fix / runbook, endsAt 4 intervals ahead."""
        sink = make(receiver.url, labels={"env": "prod", "severity": "ignored"})
        assert sink.send(firing()).ok
        sink.close()
        [request] = receiver.requests
        assert request.path == "/api/v2/alerts"
        assert request.headers["content-type"] == "application/json"
        [alert] = request.json()
        assert_golden("alertmanager_firing", alert)
        assert alert["labels"]["alertname"] == "AADSTS53003"
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["env"] == "prod"
        assert alert["endsAt"] == "2025-04-02T06:15:44Z"  # NOW + 4 x 60 s
        assert alert["generatorURL"] == f"https://enricher.example/incidents/{firing().incident_id}"
        assert alert["annotations"]["runbook_url"] == "https://enricher.example/codes/53003"

    def test_resolved_ends_now(self, receiver: Receiver) -> None:
        clock = Clock()
        sink = make(receiver.url, clock)
        assert sink.send(firing()).ok
        clock.now = NOW + timedelta(hours=2)
        assert sink.send(resolved()).ok
        sink.close()
        [first], [last] = posted(receiver, 0), posted(receiver, 1)
        assert last["labels"] == first["labels"]  # the same alert in Alertmanager
        assert last["endsAt"] == "2025-04-02T08:11:44Z" and last["startsAt"] == first["startsAt"]

    def test_changed_severity_ends_the_old_label_set(self, receiver: Receiver) -> None:
        sink = make(receiver.url)
        assert sink.send(firing()).ok
        assert sink.send(firing(id="update-1", kind="update", severity="high")).ok
        sink.close()
        new, old = posted(receiver)
        assert (new["labels"]["severity"], old["labels"]["severity"]) == ("high", "critical")
        assert old["endsAt"] == "2025-04-02T06:11:44Z"  # ended now

    def test_bad_url_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match=r"sinks\[alertmanager-test\]\.urls\[0\]"):
            make("ftp://am.example")

    def test_a_template_is_refused_not_ignored(self) -> None:
        with pytest.raises(ConfigError, match=r"sinks\[alertmanager-test\]\.template"):
            make("http://am.example", template="t.j2")


class TestResend:
    def test_firing_alerts_are_posted_again_with_a_new_end(self, receiver: Receiver) -> None:
        clock = Clock()
        sink = make(receiver.url, clock)
        assert sink.send(firing()).ok
        later = NOW + timedelta(minutes=3)
        assert sink.resend(later) is not None
        sink.close()
        [again] = posted(receiver)
        assert again["endsAt"] == "2025-04-02T06:18:44Z"  # later + 4 min
        assert again["labels"] == posted(receiver, 0)[0]["labels"]

    def test_resolved_is_reposted_for_five_minutes_then_dropped(self, receiver: Receiver) -> None:
        sink = make(receiver.url)
        sink.send(firing())
        sink.send(resolved())
        assert sink.resend(NOW + timedelta(minutes=4)) is not None
        assert posted(receiver)[0]["endsAt"] == "2025-04-02T06:11:44Z"  # still the resolution
        count = len(receiver.requests)
        assert sink.resend(NOW + timedelta(minutes=6)) is None  # nothing held any more
        sink.close()
        assert len(receiver.requests) == count

    def test_nothing_held_until_a_post_succeeded_and_tests_are_never_held(self, receiver: Receiver) -> None:
        receiver.answer(Reply(503))
        sink = make(receiver.url)
        assert sink.send(firing()).retryable
        assert sink.resend() is None
        assert sink.send(firing(kind="test", incident_id="test-1")).ok
        assert sink.resend() is None
        sink.close()

    def test_held_alerts_survive_a_restart(self, receiver: Receiver, tmp_path: Path) -> None:
        """A reload or restart builds a new sink: it goes on re-posting what the old one held."""
        first = make(receiver.url, state=tmp_path)
        assert first.send(firing()).ok
        first.close()
        assert json.loads((tmp_path / "alertmanager-alertmanager-test.json").read_text())
        second = make(receiver.url, state=tmp_path)
        assert second.resend(NOW + timedelta(minutes=1)) is not None
        second.close()
        assert posted(receiver)[0]["labels"]["alertname"] == "AADSTS53003"

    def test_unreadable_state_starts_empty(self, receiver: Receiver, tmp_path: Path) -> None:
        (tmp_path / "alertmanager-alertmanager-test.json").write_text("{not json")
        sink = make(receiver.url, state=tmp_path)
        assert sink.resend() is None
        sink.close()


class TestPeers:
    def test_every_peer_gets_every_alert(self) -> None:
        one, two = Receiver(), Receiver()
        try:
            sink = make([one.url, two.url])
            assert sink.send(firing()).ok
            sink.close()
            assert one.requests[0].body == two.requests[0].body
        finally:
            one.close()
            two.close()

    def test_a_peer_down_means_retry(self, receiver: Receiver) -> None:
        sink = make([receiver.url, f"http://127.0.0.1:{free_port()}"])
        result = sink.send(firing())
        sink.close()
        assert result.retryable and "refused" in result.detail
        assert len(receiver.requests) == 1

    def test_400_is_permanent(self, receiver: Receiver) -> None:
        receiver.answer(Reply(400, b"bad labels"))
        sink = make(receiver.url)
        result = sink.send(firing())
        sink.close()
        assert not result.ok and not result.retryable and "bad labels" in result.detail
