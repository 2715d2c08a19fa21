"""The dashboard's pure functions as tables of literal cases: filters, URLs, times, stats, charts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from enricher.dashboard.charts import (
    PALETTE,
    PINNED,
    _nice,
    code_colour,
    code_colours,
    failures_per_day,
    horizontal_bars,
)
from enricher.dashboard.filters import FilterError, Filters, parse_filters
from enricher.dashboard.stats import DayCount, GroupCount, compute_stats, failure_times, resolve_stats
from enricher.dashboard.timeline import timeline
from enricher.dashboard.view import IncidentView, ItemView, safe_url, scrub
from enricher.store.base import Event, OutboxRow
from tests.test_store import notification

T = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)


def view(**changes: Any) -> IncidentView:
    base: dict[str, Any] = {
        "id": "i1", "state": "open", "severity": "high", "code": "53003", "title": "t", "short": "CA block",
        "summary": "", "category": "", "source": "powerbi", "tenant": "contoso",
        "items": (ItemView("powerbi", "Finance", "ws", "Board", "dataset", "ds", "r", ""),),
        "first_seen": T - timedelta(days=1), "last_seen": T, "resolved_at": None, "count": 3,
        "consecutive_failures": None, "schedule_failures_left": None, "correlation_id": "", "fixes": (),
        "links": (), "excerpt": "", "flapping": False,
    }  # fmt: skip
    return IncidentView(**(base | changes))


class TestParseFilters:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, Filters()),
            ({"source": ["ADF,powerbi"]}, Filters(sources=("adf", "powerbi"))),
            ({"severity": ["high", "high"]}, Filters(severities=("high",))),
            ({"code": ["AADSTS53003", "50076"]}, Filters(codes=("53003", "50076"))),
            ({"workspace": ["Sales, EMEA"]}, Filters(workspaces=("Sales, EMEA",))),
            ({"range": ["24H"]}, Filters(range="24h")),
            ({"range": ["366d"]}, Filters(range="366d")),
            ({"q": ["  Finance   EMEA "]}, Filters(q="Finance EMEA")),
            ({"q": ["a", ""]}, Filters(q="a")),
        ],
    )
    def test_valid(self, query: dict[str, list[str]], expected: Filters) -> None:
        """Values are normalised; workspace names keep their commas."""
        assert parse_filters(query) == expected

    @pytest.mark.parametrize(
        "query",
        [{"severity": ["urgent"]}, {"code": ["5300x"]}, {"range": ["1w"]}, {"range": ["0h"]},
         {"range": ["367d"]}, {"source": [",".join(str(n) for n in range(60))]}, {"q": ["x" * 201]}],
    )  # fmt: skip
    def test_invalid(self, query: dict[str, list[str]]) -> None:
        """A value that cannot be understood is an error naming the parameter."""
        with pytest.raises(FilterError, match=next(iter(query))):
            parse_filters(query)

    def test_query_round_trips(self) -> None:
        """The query a view links to reads back as the same filters; the default range is left out."""
        f = Filters(sources=("adf",), workspaces=("Sales, EMEA", "HR"), range="30d")
        assert parse_filters(parse_qs(f.query())) == f
        assert parse_qs(f.query(code="53003", range=None)) == {
            "source": ["adf"], "code": ["53003"], "workspace": ["Sales, EMEA", "HR"],
        }  # fmt: skip
        assert Filters().query() == ""


class TestSafeUrl:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://app.powerbi.com/groups/1", "https://app.powerbi.com/groups/1"),
            ("http://localhost:8080/x", "http://localhost:8080/x"),
            ("javascript:alert(1)", ""),
            (" JavaScript:alert(1)", ""),
            ("java\tscript:alert(1)", ""),
            ("data:text/html,<script>", ""),
            ("//evil.example/x", ""),
            ("/relative", ""),
            ('https://x.example/"onmouseover=1', ""),
            ("", ""),
        ],
    )
    def test_only_absolute_http(self, url: str, expected: str) -> None:
        assert safe_url(url) == expected

    @pytest.mark.parametrize("char", [chr(c) for c in range(0x21)] + list("\\<>\"'`"))
    def test_no_control_space_or_markup_character_inside(self, char: str) -> None:
        assert safe_url(f"https://x.example/a{char}b") == ""
        assert safe_url("https://x.example/a-b") == "https://x.example/a-b"


class TestScrub:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("client_secret=abc123&x=1", "client_secret=***&x=1"),
            ("Authorization: Bearer eyJ0eXAi.eyJz.sig", "Authorization: Bearer ***"),
            ("https://user:pw@host/path", "https://user:***@host/path"),
            ('--data "client_secret=<secret-value>"', '--data "client_secret=<secret-value>"'),
            (
                "AADSTS7000215: Invalid client secret provided.",
                "AADSTS7000215: Invalid client secret provided.",
            ),
        ],
    )
    def test_credentials_hidden_placeholders_kept(self, text: str, expected: str) -> None:
        assert scrub(text) == expected


class TestFailureTimes:
    @pytest.mark.parametrize(
        ("count", "recorded", "expected"),
        [
            # the first poll read three failures at once: the first moves to first_seen, the rest cap at last_seen
            (3, [T + timedelta(hours=1)] * 3, [T - timedelta(days=1), T, T]),
            (
                2,
                [T - timedelta(hours=5), T - timedelta(hours=1)],
                [T - timedelta(days=1), T - timedelta(hours=1)],
            ),
            # no events (an older store): every failure on the day of the last one
            (2, [], [T, T]),
            # more events than failures: only the latest count
            (1, [T - timedelta(hours=2), T - timedelta(hours=1)], [T - timedelta(days=1)]),
            (0, [T], []),
        ],
    )
    def test_table(self, count: int, recorded: list[datetime], expected: list[datetime]) -> None:
        assert failure_times(view(count=count), recorded) == expected


class TestStats:
    def test_counts_only_failures_in_range(self) -> None:
        a = view(id="a", code="53003", count=2)
        b = view(id="b", code="50000", state="resolved", source="adf", count=1, resolved_at=T,
                 first_seen=T - timedelta(minutes=20), items=())  # fmt: skip
        failures = {"a": [T - timedelta(days=9), T], "b": [T - timedelta(minutes=20)]}
        stats = compute_stats([a, b], failures, T - timedelta(days=7), T)
        assert stats.failures == 2 and stats.open == 1 and stats.resolved == 1
        assert stats.days[0].day == date(2025, 3, 26) and len(stats.days) == 8
        assert stats.days[-1] == DayCount(date(2025, 4, 2), {"53003": 1, "50000": 1})
        assert [(g.name, g.failures) for g in stats.sources] == [("adf", 1), ("powerbi", 1)]
        assert [(g.name, g.label) for g in stats.containers] == [("Finance", "Finance (workspace)")]
        assert stats.resolve.count == 1 and stats.resolve.buckets[1] == ("15-60 min", 1)

    def test_resolve_percentiles(self) -> None:
        r = resolve_stats([60.0 * m for m in (5, 10, 30, 90, 600, 2000)])
        assert r.count == 6 and r.median_seconds == 60 * 60 and r.max_seconds == 2000 * 60
        assert [n for _, n in r.buckets] == [2, 1, 1, 1, 1]
        assert resolve_stats([]).median_seconds is None


class TestCharts:
    @pytest.mark.parametrize(
        ("value", "top"), [(0, 4), (3, 4), (7, 8), (13, 16), (96, 100), (101, 120), (4001, 5000)]
    )
    def test_axis_maximum_is_round(self, value: int, top: int) -> None:
        assert _nice(value) == top

    def test_eight_codes_and_more_share_other(self) -> None:
        colours = code_colours([str(n) for n in range(12)])
        assert len(colours) == 8 and "other" in colours and "7" not in colours
        svg = failures_per_day([DayCount(date(2025, 4, 2), {"1": 2, "11": 3})], colours)
        assert 'data-code="other" data-count="3"' in svg and 'data-code="1" data-count="2"' in svg

    def test_labels_are_escaped(self) -> None:
        row = GroupCount("<b>x</b>", '"><script>', "adf", 3, 1, 1)
        svg = horizontal_bars("top", [row])
        assert "<script>" not in svg and "<b>" not in svg
        assert "&#34;&gt;&lt;script&gt;" in svg and 'data-name="&lt;b&gt;x&lt;/b&gt;"' in svg

    def test_empty_charts_say_so(self) -> None:
        assert "No failures in this range" in failures_per_day([DayCount(date(2025, 4, 2), {})], {})
        assert "Nothing in this range" in horizontal_bars("by-source", [])


class TestColours:
    @pytest.mark.parametrize("codes", [["53003", "50076"], ["50076", "53003"], ["1", "2", "3", "53003"]])
    def test_a_code_keeps_its_colour_whatever_its_rank(self, codes: list[str]) -> None:
        """The legend of any view gives 53003 the same colour (it used to follow the rank)."""
        assert code_colours(codes)["53003"] == code_colour("53003") == PALETTE[0]

    def test_pinned_codes_differ(self) -> None:
        assert len({code_colour(c) for c in PINNED}) == len(PINNED)


class TestTimeline:
    @pytest.mark.parametrize(
        ("kind", "detail", "step_kind", "label", "shown"),
        [
            ("failure", "run r1: AADSTS53003", "first-failure", "First failure", "run r1: AADSTS53003"),
            ("notify:firing", "slack, email", "notified", "Alert queued", "for slack, email"),
            ("notify:update", "", "notified", "Update queued", "for no sink (silenced or not routed)"),
            ("notify:resolved", "teams", "notified", "All-clear queued", "for teams"),
            ("signin", "Conditional Access policy blocked x", "signin", "Sign-in cause found",
             "Conditional Access policy blocked x"),
            ("children", "3 items", "children", "Items joined this cause", "3 items"),
            ("resolved", "run r2 succeeded", "resolved", "Resolved", "run r2 succeeded"),
            ("something-new", "x", "other", "something-new", "x"),
        ],
    )  # fmt: skip
    def test_each_event_kind(self, kind: str, detail: str, step_kind: str, label: str, shown: str) -> None:
        (step,) = timeline([Event("i1", T, kind, detail)])
        assert (step.kind, step.label, step.detail) == (step_kind, label, shown)

    def test_oldest_first_and_only_the_first_failure_is_first(self) -> None:
        events = [
            Event("i1", T + timedelta(hours=2), "failure", "run r3"),
            Event("i1", T, "failure", "run r1"),
            Event("i1", T + timedelta(hours=1), "notify:firing", "console"),
        ]
        steps = timeline(events)
        assert [s.kind for s in steps] == ["first-failure", "notified", "failure"]
        assert steps[1].sinks == ("console",)

    def test_what_each_sink_did(self) -> None:
        """The outbox's outcome per sink joins the timeline: delivered, given up on with the
        destination's reason (credentials scrubbed), waiting to try again; nothing before a try."""
        n = notification()  # a firing 53003
        at = T + timedelta(minutes=1)
        rows = [
            OutboxRow(1, n, "slack", 1, T, T, "delivered", "", None, at),
            OutboxRow(
                2, n, "pagerduty", 7, T, T, "dead", "HTTP 400: bad routing key Bearer abc.def.ghi", None, at
            ),
            OutboxRow(3, n, "teams", 2, T, T + timedelta(minutes=4), "pending", "HTTP 503"),
            OutboxRow(4, n, "email", 0, T, T),
        ]
        steps = timeline([Event("i1", T, "notify:firing", "slack, pagerduty, teams, email")], rows)
        shown = [(s.kind, s.label, s.detail) for s in steps]
        assert shown == [
            ("notified", "Alert queued", "for slack, pagerduty, teams, email"),
            ("delivered", "Alert delivered to slack", "1 attempt"),
            (
                "undelivered",
                "Alert not delivered to pagerduty",
                "gave up after 7 attempts: HTTP 400: bad routing key Bearer ***",
            ),
            ("retrying", "Alert to teams: next try", "2 attempts failed: HTTP 503"),
        ]
