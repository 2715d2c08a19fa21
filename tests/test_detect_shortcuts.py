"""Detection's shortcuts each skip work that cannot change the answer (hypothesis).

Each property holds a shortcut to the slower path it replaced, on texts made of the words those
paths look at: the knowledge base's phrases, field labels and values, and the property test's
fragments.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from enricher.core import detect as module
from enricher.core.detect import Signatures
from enricher.core.detect_context import _FIELDS, _Field
from enricher.core.knowledge import load_knowledge
from tests.test_detect_properties import FRAGMENTS, SIGS

SHORTCUT_WORDS = st.sampled_from(
    [
        "code",
        "Code",
        "error",
        "_error",
        "servererror",
        "servererror: invalid_grant",
        "error: invalid_grant",
        "x_error=interaction_required",
        "server_error",
        "error_code",
        "error code",
        "sign-in error code",
        "suberror",
        "sub_error",
        "invalid_grant",
        "interaction_required",
        "Trace ID",
        "trace_id",
        "Correlation ID",
        "Timestamp",
        "2025-04-02 06:00:41Z",
        "3f2a9c41-0d8e-4a57-b1c6-2e9d7f1a6b33",
        "refresh token has expired",
        "due to inactivity",
        "blocked by",
        "access",
        "refresh",
        "expired",
        "inactivity",
        "AADSTS50076",
        "error_codes",
        "error?code=",
        "errorCode",
        "12345",
    ]
)


def _kb_phrases() -> list[str]:
    return sorted(
        {p.phrase.replace("*", "x") for ps in load_knowledge().signatures.by_anchor.values() for p in ps}
    )


KB_PHRASES = _kb_phrases()
SHORTCUT_TEXTS = st.lists(
    st.one_of(SHORTCUT_WORDS, FRAGMENTS, st.sampled_from(KB_PHRASES), st.text(max_size=4)), max_size=30
).map("".join)


@settings(max_examples=300, deadline=None)
@given(SHORTCUT_TEXTS)
def test_the_code_word_gate_skips_only_patterns_that_cannot_match(text: str) -> None:
    """Without the word "code" only some code patterns run; running them all finds the same."""
    low = module._lower(text)
    gated = module._code_hits(low)
    saved = module._CODELESS_TABLE
    module._CODELESS_TABLE = module._CODE_TABLE
    try:
        assert module._code_hits(low) == gated
    finally:
        module._CODELESS_TABLE = saved


@settings(max_examples=300, deadline=None)
@given(SHORTCUT_TEXTS)
def test_a_phrase_pattern_skipped_for_a_missing_word_would_not_have_matched(text: str) -> None:
    """Checking a phrase's second word first finds what running every woken pattern finds."""
    low = text.lower()
    for sigs in (load_knowledge().signatures, SIGS):
        every = Signatures(
            sigs.anchors,
            {a: tuple(dataclasses.replace(p, also="") for p in ps) for a, ps in sigs.by_anchor.items()},
            sigs.anchor_bytes,
        )
        assert sigs.scan(low) == every.scan(low)


@settings(max_examples=300, deadline=None)
@given(SHORTCUT_TEXTS, st.integers(0, 40), st.integers(0, 200))
def test_a_flat_field_finds_what_a_search_from_each_label_finds(text: str, start: int, length: int) -> None:
    """One ``finditer`` over a flat field's window equals matching at each of its labels."""
    low = text.lower()
    end = min(len(low), start + length)
    for field in (f for f in _FIELDS if f.flat):
        behind = f"(?<![{field.not_after}])" if field.not_after else ""
        by_label = _Field(field.name, field.labels, behind + field.rx.pattern)
        assert field.scan(low, start, end) == by_label.scan(low, start, end), field.name
