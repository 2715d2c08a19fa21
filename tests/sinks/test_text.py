"""The shared text helpers, as tables of literal cases."""

from __future__ import annotations

import pytest

from enricher.sinks import limits, text
from enricher.sinks.http import parse_retry_after, redact, url_secrets
from tests.sinks.conftest import firing, resolved


class TestTruncate:
    @pytest.mark.parametrize(
        ("raw", "limit", "expected"),
        [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("a" * 30, 20, "aaaaaaa" + limits.MARKER),
            ("ééééééééééééééééééééééé", 20, "ééééééé" + limits.MARKER),  # code points, not bytes
            ("abcdef", 3, "abc"),  # no room for the marker: a hard cut
            ("the quick brown fox jumps", 20, "the" + limits.MARKER),  # never half a word
            ("abcdefg hijklmnopqrstuvwx", 20, "abcdefg" + limits.MARKER),  # the cut fell on a space
            ("to the wrong tenant, really", 24, "to the" + limits.MARKER),
        ],
    )
    def test_table(self, raw: str, limit: int, expected: str) -> None:
        """At most ``limit`` characters, and a visible marker when something was cut."""
        assert text.truncate(raw, limit) == expected
        assert len(text.truncate(raw, limit)) <= limit


class TestEscapeMrkdwn:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("<!channel>", "&lt;!channel&gt;"),
            ("<@U123>", "&lt;@U123&gt;"),
            ("<https://evil|click>", "&lt;https://evil|click&gt;"),
            ("a & b", "a &amp; b"),
            ("&lt;", "&amp;lt;"),  # an entity in the input is shown, not decoded
            ("hi @channel and @here", "hi @\u200bchannel and @\u200bhere"),
            ("mail a@b.com", "mail a@b.com"),
        ],
    )
    def test_table(self, raw: str, expected: str) -> None:
        """Only the three control characters become entities; broadcasts are defused."""
        assert text.escape_mrkdwn(raw) == expected


class TestEscapeMarkdown:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("*bold*", r"\*bold\*"),
            ("[x](https://e)", r"\[x\](https://e)"),
            ("a_b", r"a\_b"),
            ("App_Pool_01", r"App\_Pool\_01"),
            ("plain (text)! <b> #1 `x`", "plain (text)! <b> #1 `x`"),
        ],
    )
    def test_table(self, raw: str, expected: str) -> None:
        assert text.escape_markdown(raw) == expected


class TestSafeUrl:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("https://app.powerbi.com/groups/x", "https://app.powerbi.com/groups/x"),
            ("http://h/a b", "http://h/a%20b"),
            ("https://h/a|b>c<d", "https://h/a%7Cb%3Ec%3Cd"),
            ("javascript:alert(1)", None),
            ("mailto:a@b", None),
            ("https://", None),
            ("https://h/\x1b[31m", None),
            ("", None),
        ],
    )
    def test_table(self, raw: str, expected: str | None) -> None:
        """Only http(s) URLs, and none that could close ``<url|label>`` markup."""
        assert text.safe_url(raw) == expected


class TestFit:
    def test_escaped_text_fits_the_limit(self) -> None:
        """Escaping can grow a text five-fold; the result still fits and no entity is cut."""
        out = text.fit("&" * 100, 50, text.escape_mrkdwn)
        assert len(out) <= 50 and out.endswith(limits.MARKER)
        assert out.removesuffix(limits.MARKER).replace("&amp;", "") == ""


class TestWording:
    def test_firing(self) -> None:
        n = firing()
        assert text.title_line(n) == "FIRING · AADSTS53003: Access blocked by Conditional Access - Sales"
        assert (
            text.seen_line(n)
            == "first seen 2025-04-02 04:10 UTC · 3 failures · last seen 2025-04-02 06:10 UTC"
        )
        assert text.schedule_line(n) == "3 consecutive failures: Power BI disables the schedule after 1 more."
        assert text.lasted_line(n) is None
        assert [s.number for s in text.fix_steps(n)] == [1, 2]

    def test_resolved_says_how_long(self) -> None:
        n = resolved()
        assert text.title_line(n).startswith("RESOLVED · ")
        assert text.lasted_line(n) == "Resolved: the last run succeeded; the problem lasted 2 h 5 min."

    def test_ids_and_links(self) -> None:
        n = firing()
        assert dict(text.id_pairs(n))["Correlation ID"] == "0f1e2d3c-4b5a-4697-8877-665544332211"
        labels = [label for label, _ in text.link_pairs(n)]
        assert labels == ["AADSTS53003 explained", "Entra sign-in logs", "Open Sales"]

    def test_plain_text_has_every_piece(self) -> None:
        body = text.plain_text(firing())
        for part in (
            "FIRING ·",
            "Item: Sales (dataset) in Finance",
            "How to fix:",
            "  2. ",
            "$ az rest",
            "Correlation ID:",
        ):
            assert part in body


class TestHttpHelpers:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, None),
            ("", None),
            ("30", 30.0),
            ("2.5", 2.5),
            ("-4", 0.0),
            ("999999", 3600.0),
            ("Wed, 02 Apr 2025 06:11:44 GMT", 60.0),
            ("soon", None),
        ],
    )
    def test_retry_after(self, value: str | None, expected: float | None) -> None:
        """Seconds or an HTTP date (relative to ``now``), capped at an hour."""
        now = 1743574244.0  # 2025-04-02 06:10:44 UTC
        assert parse_retry_after(value, now) == expected

    def test_redact_url_parts(self) -> None:
        url = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnop"
        said = "no_service for /services/T0001/B0002/abcdefghijklmnop (abcdefghijklmnop)"
        assert "abcdefghijklmnop" not in redact(said, url_secrets(url))
