"""Hostile input: mentions, links, markup, HTML, terminal escapes and 50 KB of text in every field
that comes from outside. Each payload must stay valid JSON, within its destination's limits, with
nothing interpreted as markup that we did not write ourselves."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from enricher.sinks import limits
from tests.sinks.conftest import hostile, make_sink
from tests.sinks.servers import Receiver

#: What each destination would interpret if it arrived raw. Teams shows ``<!channel>`` as text and
#: PagerDuty renders nothing, so only their own markup (and terminal escapes) matter there.
INJECTIONS = {
    "slack": ("<!channel>", "<!here>", "<@U123>", "<https://evil", "<script>", "javascript:", "\x1b"),
    "teams": ("javascript:", "\x1b"),
    "pagerduty": ("javascript:", "\x1b"),
}


def sent(kind: str, receiver: Receiver) -> tuple[Any, bytes]:
    sink = make_sink(kind, receiver.url)
    result = sink.send(hostile())
    sink.close()
    assert result.ok, result
    body = receiver.requests[-1].body
    return json.loads(body), body


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


@pytest.mark.parametrize("kind", list(INJECTIONS))
def test_no_raw_injection_survives(receiver: Receiver, kind: str) -> None:
    """The payload is valid JSON and nothing the destination would interpret survives raw."""
    message, _ = sent(kind, receiver)
    for text in strings(message):
        for bad in INJECTIONS[kind]:
            assert bad not in text, (bad, text[:200])


def test_webhook_carries_data_verbatim_but_small(receiver: Receiver) -> None:
    """The generic webhook is read by programs: the data stays as it was, only the excerpt is capped."""
    message, body = sent("webhook", receiver)
    assert message["data"]["items"][0]["item_name"] == hostile().items[0].item_name
    assert message["data"]["excerpt"].endswith(limits.MARKER)
    assert len(message["data"]["excerpt"]) <= limits.WEBHOOK_EXCERPT
    assert len(body) < 200_000


def test_slack_limits_and_escaping(receiver: Receiver) -> None:
    message, _ = sent("slack", receiver)
    blocks = message["blocks"]
    assert len(blocks) <= limits.SLACK_BLOCKS and len(message["text"]) <= limits.SLACK_TEXT
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= limits.SLACK_HEADER
    for block in blocks:
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= limits.SLACK_SECTION
            fields = block.get("fields", [])
            assert len(fields) <= limits.SLACK_FIELDS and all(
                len(f["text"]) <= limits.SLACK_FIELD for f in fields
            )
        if block["type"] == "context":
            assert len(block["elements"]) <= limits.SLACK_CONTEXT_ELEMENTS
        if block["type"] == "actions":
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= limits.SLACK_BUTTON_TEXT
                assert button["url"].startswith("https://") and "|" not in button["url"]
    everything = "\n".join(strings(message))
    assert "&lt;!channel&gt;" in everything and "&lt;@U123&gt;" in everything
    assert not re.search(r"@(channel|here)\b", everything), "bare broadcasts must be defused"
    excerpt = next(
        b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*Error message*")
    )
    assert excerpt.endswith("```") and excerpt.count("```") == 2, "the raw error stays inside one code block"
    assert limits.MARKER in excerpt


def test_teams_limits_and_escaping(receiver: Receiver) -> None:
    message, body = sent("teams", receiver)
    assert len(body) <= limits.TEAMS_BYTES
    for text in strings(message["attachments"][0]["content"]["body"]):
        assert not re.search(r"(?<!\\)\*bold", text), text[:200]
        assert not re.search(r"(?<!\\)\[click\]", text), text[:200]
    actions = message["attachments"][0]["content"]["actions"]
    assert all(a["url"].startswith("https://") for a in actions)


def test_pagerduty_limits(receiver: Receiver) -> None:
    event, body = sent("pagerduty", receiver)
    assert len(body) <= limits.PAGERDUTY_BYTES
    assert len(event["payload"]["summary"]) <= limits.PAGERDUTY_SUMMARY
    for key in ("source", "component", "group"):
        assert len(event["payload"][key]) <= limits.PAGERDUTY_FIELD
    assert all(link["href"].startswith("https://") for link in event["links"])
