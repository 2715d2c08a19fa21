"""Placeholders never reach a reader raw: filled when known, written around when not."""

from __future__ import annotations

import re

import pytest

from enricher.core.enrich import entry_for
from enricher.core.kb_schema import Entry
from enricher.core.knowledge import load_knowledge
from enricher.core.placeholders import PLACEHOLDER_RX, fill_command, fill_step, step_problem
from enricher.core.render import Style, entry_text

KB = load_knowledge()
RICH = [e for e in KB if e.rich]
RAW = re.compile(
    r"\{(?:"
    + "|".join(
        sorted({n for e in KB for f in e.fixes for n in PLACEHOLDER_RX.findall(f.step + (f.command or ""))})
    )
    + r")\}"
)


class TestFill:
    @pytest.mark.parametrize(
        ("template", "values", "expected"),
        [
            ("Open the failed sign-in (correlation ID {correlation_id}).", {}, "Open the failed sign-in."),
            (
                "Open the failed sign-in (correlation ID {correlation_id}).",
                {"correlation_id": "c0ffee"},
                "Open the failed sign-in (correlation ID c0ffee).",
            ),
            (
                "Use https://login.microsoftonline.com/{tenant_id} here.",
                {},
                "Use https://login.microsoftonline.com/<tenant-id> here.",
            ),
            (
                "Quote the trace ID ({trace_id}) and timestamp ({timestamp}).",
                {"timestamp": "t1"},
                "Quote the trace ID and timestamp (t1).",
            ),
            ("No placeholder (kept as is).", {}, "No placeholder (kept as is)."),
        ],
    )
    def test_step(self, template: str, values: dict[str, str], expected: str) -> None:
        assert fill_step(template, values) == expected

    def test_command_marks_what_the_admin_types_in(self) -> None:
        assert fill_command("az x --id {client_id} --c {correlation_id}", {"client_id": "abc"}) == (
            "az x --id abc --c <correlation-id>"
        )

    @pytest.mark.parametrize(
        ("step", "ok"),
        [
            ("Check the sign-in for {correlation_id}.", False),
            ("Check app {client_id}.", False),
            ("Check the app (client ID {client_id}).", True),
            ("Send it to https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token.", True),
            ("Open ...adminconsent?client_id={client_id}.", True),
        ],
    )
    def test_schema_rule(self, step: str, ok: bool) -> None:
        assert (step_problem(step) is None) == ok

    def test_a_loose_placeholder_is_marked_not_raw(self) -> None:
        """A local override may not follow the rule; its reader still sees no braces."""
        assert (
            fill_step("Quote {correlation_id} in the ticket.", {}) == "Quote <correlation-id> in the ticket."
        )


@pytest.mark.parametrize("entry", list(KB), ids=[e.code for e in KB])
def test_builtin_steps_read_well_without_values(entry: Entry) -> None:
    assert [step_problem(f.step) for f in entry.fixes if step_problem(f.step)] == []


def test_there_are_rich_entries_with_placeholders() -> None:
    """Guards the check below: it must have something to look at."""
    assert len(RICH) >= 20
    assert sum(1 for e in RICH for f in e.fixes if PLACEHOLDER_RX.search(f.step)) >= 10


@pytest.mark.parametrize("entry", RICH, ids=[e.code for e in RICH])
def test_rich_entry_renders_without_values(entry: Entry) -> None:
    text = entry_text(entry, Style(False))
    assert not RAW.search(text), RAW.search(text)
    for line in text.splitlines():
        # what a dropped parenthetical could leave behind: "()", "word ." or "word ,"
        assert "()" not in line and not re.search(r"\w [.,;:](\s|$)", line), line


def test_enrich_fills_what_the_error_text_gives() -> None:
    from enricher.cli.enrich_cmd import result_json
    from enricher.core.detect import detect

    text = (
        "AADSTS53001: Device is not in required device state: domain_joined. "
        "Trace ID: 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 Correlation ID: 6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d "
        "Timestamp: 2025-04-02 05:30:18Z"
    )
    advice = result_json(detect(text, KB.signatures), KB, None)["advice"]
    joined = " ".join(advice["fixes"])
    assert "(correlation ID 6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d)" in joined
    assert not RAW.search(joined)


def test_generic_guidance_has_no_placeholders() -> None:
    entry, known = entry_for("9999999", KB)
    assert not known and not RAW.search(entry_text(entry, Style(False), known=False))
