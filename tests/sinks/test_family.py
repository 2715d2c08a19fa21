"""A parent's message in every human-facing sink: its items counted, where they fail, who recovered.

The parents are made by the core from real runs (``tests/test_grouping.py``'s helpers), so the
fields the sinks read are the ones the flush fills in.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from connectors.records import RunStatus
from enricher.core.incidents import Book
from enricher.core.knowledge import KnowledgeBase, load_knowledge
from enricher.core.render import Style
from enricher.notification import Notification
from enricher.sinks import console, pagerduty, slack, teams, text
from enricher.sinks.email import HTML
from enricher.sinks.templates import SinkTemplate
from tests.test_grouping import APP_A, T0, expired, poll, run_of, sent

FAILING = "Failing per workspace or factory: adf-sales 24, adf-hr 6"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture(scope="module")
def firing(kb: KnowledgeBase) -> Notification:
    """30 pipelines behind one app's expired secret, in two factories."""
    book = Book()
    runs = [run_of(f"p{i:02d}", expired(APP_A), app_name="sales-etl") for i in range(24)]
    runs += [run_of(f"h{i:02d}", expired(APP_A), workspace="adf-hr", app_name="sales-etl") for i in range(6)]
    poll(kb, book, runs, T0)
    (note,) = sent(book, T0 + timedelta(minutes=1))
    return note


@pytest.fixture(scope="module")
def resolved(kb: KnowledgeBase) -> Notification:
    """Three children recover one after the other; the last one resolves the parent."""
    book = Book()
    poll(kb, book, [run_of(i, expired(APP_A), app_name="sales-etl") for i in ("a", "b", "c")], T0)
    sent(book, T0 + timedelta(minutes=1))
    for n, item in enumerate(("a", "b", "c"), 1):
        at = T0 + timedelta(minutes=10 * n)
        poll(kb, book, [run_of(item, "", at=at, status=RunStatus.SUCCEEDED)], at)
    (note,) = sent(book, T0 + timedelta(hours=1))
    assert note.kind == "resolved"
    return note


class TestText:
    def test_a_parent_counts_all_its_items_not_the_twenty_listed(self, firing: Notification) -> None:
        assert len(firing.items) == 20 and text.items_count(firing) == 30
        lines = text.items_lines(firing)
        assert len(lines) == 21 and lines[-1] == "… and 10 more"

    def test_family_lines_say_where_the_items_fail(self, firing: Notification) -> None:
        assert text.family_lines(firing) == [FAILING]

    def test_a_resolved_parent_says_who_recovered_when(self, resolved: Notification) -> None:
        assert text.family_lines(resolved) == [
            "Recovered: pl_a 2025-04-02 06:10 UTC, pl_b 2025-04-02 06:20 UTC, pl_c 2025-04-02 06:30 UTC"
        ]

    def test_a_message_about_one_item_has_no_family(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of("solo", expired(APP_A))], T0)
        (note,) = sent(book, T0 + timedelta(minutes=1))
        assert note.children is None and text.family_lines(note) == []


class TestSinks:
    def test_plain_text_and_console(self, firing: Notification, resolved: Notification) -> None:
        for rendered in (text.plain_text(firing), console.text_block(firing, Style(False))):
            assert f"AADSTS7000222 on app `sales-etl` (id {APP_A}): 30 items" in rendered
            assert FAILING in " ".join(rendered.split()) and "… and 10 more" in rendered
        assert "Recovered: pl_a" in text.plain_text(resolved)

    def test_slack(self, firing: Notification) -> None:
        body = json.dumps(slack.blocks(firing), ensure_ascii=False)
        assert "30 items" in body and FAILING in body

    def test_teams(self, firing: Notification) -> None:
        body = json.dumps(teams.card(firing), ensure_ascii=False)
        assert "30 items" in body and FAILING in body

    def test_pagerduty(self, firing: Notification) -> None:
        details = pagerduty.custom_details(firing)
        assert FAILING in details["notes"] and details["items"][-1] == "… and 10 more"

    def test_email(self, resolved: Notification) -> None:
        html = SinkTemplate(HTML, output="html", origin="built-in").render(resolved)
        assert "Recovered: pl_a 2025-04-02 06:10 UTC" in html
