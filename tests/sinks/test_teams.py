"""Teams: the Workflows envelope around an Adaptive Card 1.4 (golden files) and the 28 KB limit."""

from __future__ import annotations

from enricher.models import FixStep
from enricher.sinks import limits
from enricher.sinks.http import json_body
from enricher.sinks.teams import CARD, card, envelope, shrink
from tests.sinks.conftest import assert_golden, firing, make_sink, resolved
from tests.sinks.servers import Receiver, Reply


def test_firing_golden() -> None:
    assert_golden("teams_firing", envelope(card(firing())))


def test_resolved_golden() -> None:
    assert_golden("teams_resolved", envelope(card(resolved())))


def test_envelope_shape() -> None:
    """The template flow needs attachments[]; a bare card makes it fail."""
    message = envelope(card(firing()))
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == CARD and attachment["contentUrl"] is None
    content = attachment["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    assert all(b.get("wrap", True) for b in content["body"] if b["type"] == "TextBlock")
    assert {a["type"] for a in content["actions"]} == {"Action.OpenUrl"}


def test_shrink_fits_28k_with_a_marker() -> None:
    many = (FixStep("s" * 900, "c" * 500),) * 60
    big = envelope(card(firing(excerpt="x" * 60_000, summary="y" * 20_000, fixes=many)))
    assert len(json_body(big)) > limits.TEAMS_BYTES
    small = shrink(big)
    assert len(json_body(small)) <= limits.TEAMS_BYTES
    assert limits.MARKER in json_body(small).decode()


def test_accepted_202_is_delivered(receiver: Receiver) -> None:
    """Workflows answer 202 with an empty body as soon as the request is queued."""
    receiver.answer(Reply(202, b""))
    sink = make_sink("teams", receiver.url)
    result = sink.send(firing())
    sink.close()
    assert result.ok and result.status == 202
    assert receiver.requests[0].json() == envelope(card(firing()))
