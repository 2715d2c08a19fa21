"""Every outside field is bounded per destination: a 100 KB item name and a long Entra message
give small payloads, with the visible marker, cut between words, through the real sinks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from enricher.config import ConsoleSinkConfig, EmailSinkConfig, JsonlSinkConfig
from enricher.notification import ItemRef, Notification
from enricher.sinks import limits
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.console import ConsoleSink
from enricher.sinks.email import EmailSink
from enricher.sinks.jsonl import JsonlSink
from tests.sinks.conftest import firing, make_sink
from tests.sinks.servers import Receiver

NAME = "Sales Quarterly Board Pack " * 4000  # about 100 KB
SENTENCE = (
    "AADSTS700016: Application with identifier 'a1b2' was not found in the directory 'Contoso'. This can "
    "happen if the application has not been installed by the administrator of the tenant or consented to "
    "by any user in the tenant. You may have sent your authentication request to the wrong tenant. "
)


def huge() -> Notification:
    item = ItemRef("adf", "Factory " * 12000, NAME, "pipeline", run_id="r" * 50_000)
    return firing(
        title=f"AADSTS700016: Application not found - {NAME}",
        short=NAME,
        items=(item,) * 3,
        excerpt=SENTENCE * 300,
        labels={"workspace": "Factory " * 12000, "item": NAME},
    )


#: destination -> the most bytes one notification may take (all were above 1 MB before bounds)
SIZES = {"slack": 20_000, "teams": limits.TEAMS_BYTES, "pagerduty": 20_000, "webhook": 20_000}


class TestOverHttp:
    @pytest.mark.parametrize("kind", sorted(SIZES))
    def test_small_with_a_marker(self, kind: str, receiver: Receiver) -> None:
        """The body stays under its bound, says it was shortened, and keeps whole words."""
        sink = make_sink(kind, receiver.url)
        assert sink.send(huge()).ok
        sink.close()
        body = receiver.requests[-1].body
        assert len(body) <= SIZES[kind]
        assert "… \\\\[truncated" in body.decode() or "… [truncated]" in body.decode()  # Teams escapes [
        assert "Sales Quarterly Board" in body.decode()

    def test_webhook_keeps_the_error_up_to_its_limit(self, receiver: Receiver) -> None:
        """The excerpt keeps 8,000 characters, ends on a word with the marker, reason included."""
        sink = make_sink("webhook", receiver.url)
        assert sink.send(huge()).ok
        excerpt = receiver.requests[-1].json()["data"]["excerpt"]
        assert len(excerpt) <= limits.WEBHOOK_EXCERPT and excerpt.endswith(limits.MARKER)
        kept = excerpt.removesuffix(limits.MARKER)
        assert huge().excerpt.startswith(kept) and huge().excerpt[len(kept)] == " "
        assert "to the wrong tenant" in kept


class TestRendered:
    def test_email(self) -> None:
        sink = EmailSink(
            EmailSinkConfig(
                name="e",
                type="email",
                host="127.0.0.1",
                security="none",
                sender="a@b.c",
                recipients=["x@y.z"],
            )
        )
        raw = sink.message(huge()).as_bytes()
        assert len(raw) <= 40_000 and b"[truncated]" in raw

    def test_console_and_jsonl(self, tmp_path: Path) -> None:
        console = ConsoleSink(ConsoleSinkConfig(name="c", type="console"), stream=None)
        assert len(console.render(huge())) <= 40_000
        jsonl = JsonlSink(JsonlSinkConfig(name="j", type="jsonl", path=str(tmp_path / "out.jsonl")))
        line: Any = json.loads(jsonl.line(huge()))
        assert len(line["items"][0]["item_name"]) <= BOUNDS["jsonl"].name
        assert line["items"][0]["item_name"].endswith(limits.MARKER)


class TestBounded:
    @pytest.mark.parametrize("destination", sorted(BOUNDS))
    def test_every_outside_field(self, destination: str) -> None:
        b = BOUNDS[destination]
        n = bounded(huge(), b)
        for item in n.items:
            for value in (item.item_name, item.container_name, item.run_id):
                assert len(value) <= b.name and value.endswith(limits.MARKER)
        assert all(len(v) <= b.name for v in n.labels.values())
        assert len(n.title) <= b.title and len(n.short) <= b.title and len(n.excerpt) <= b.text

    def test_short_fields_are_untouched(self) -> None:
        n = firing()
        assert bounded(n, BOUNDS["slack"]) is n
