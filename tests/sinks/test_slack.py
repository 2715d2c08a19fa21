"""Slack: Block Kit payloads (golden files), limits and what Slack receives."""

from __future__ import annotations

import json

from enricher.sinks import limits
from enricher.sinks.slack import payload
from tests.sinks.conftest import SECRET_PATH, assert_golden, firing, make_sink, resolved
from tests.sinks.servers import Receiver


class TestPayload:
    def test_firing_golden(self) -> None:
        assert_golden("slack_firing", payload(firing()))

    def test_resolved_golden(self) -> None:
        """A resolved message says how long it lasted and carries no fix steps."""
        message = payload(resolved())
        assert_golden("slack_resolved", message)
        texts = json.dumps(message)
        assert "lasted 2 h 5 min" in texts and "How to fix" not in texts

    def test_burst_lists_items(self) -> None:
        items = firing().items * 3
        message = payload(firing(items=items))
        listing = [b for b in message["blocks"] if b.get("text", {}).get("text", "").startswith("3 items")]
        assert len(listing) == 1 and listing[0]["text"]["type"] == "plain_text"

    def test_every_mrkdwn_object_is_verbatim(self) -> None:
        """verbatim: no auto-linking and no bare @here/@channel broadcast from our text."""
        objects = [o for o in _walk(payload(firing())) if isinstance(o, dict) and o.get("type") == "mrkdwn"]
        assert objects and all(o["verbatim"] is True for o in objects)


def _walk(node: object) -> list[object]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def test_send_posts_the_payload(receiver: Receiver) -> None:
    """One POST of compact JSON to the webhook path; 200 ``ok`` is delivered."""
    sink = make_sink("slack", receiver.url)
    result = sink.send(firing())
    sink.close()
    assert result.ok and result.detail == "HTTP 200: ok"
    [request] = receiver.requests
    assert request.path == SECRET_PATH
    assert request.headers["content-type"] == "application/json"
    assert request.json() == payload(firing())
    assert request.headers["user-agent"].startswith("aadsts-enricher/")


def test_rate_and_flags_come_from_config(receiver: Receiver) -> None:
    sink = make_sink("slack", receiver.url, rate_per_second=0.5, send_resolved=False)
    assert (sink.rate, sink.send_resolved, sink.name) == (0.5, False, "slack-test")


def test_header_limit() -> None:
    long_title = firing(title="AADSTS53003: " + "x" * 400)
    header = payload(long_title)["blocks"][0]["text"]["text"]
    assert len(header) == limits.SLACK_HEADER and header.endswith(limits.MARKER)
