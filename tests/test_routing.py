"""Routes, silences and maintenance windows as tables of literal cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enricher.config import MaintenanceWindow, Match, RouteConfig
from enricher.core.routing import Silence, in_window, matches, muted, route

LABELS = {
    "severity": "high",
    "category": "conditional_access",
    "code": "53003",
    "source": "powerbi",
    "tenant": "contoso",
    "workspace": "Finance Prod",
    "item": "Board Pack",
}


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({}, True),
        ({"severity": ["critical", "high"]}, True),
        ({"severity": "critical"}, False),
        ({"code": "53003"}, True),
        ({"code": "AADSTS53003"}, True),
        ({"code": "53*"}, True),
        ({"workspace": "finance*"}, True),
        ({"workspace": "re:^Finance (Prod|Test)$"}, True),
        ({"workspace": "re:^Sales"}, False),
        ({"source": ["adf", "synapse"]}, False),
        ({"source": "powerbi", "category": "conditional_access", "item": "Board*"}, True),
        ({"source": "powerbi", "tenant": "fabrikam"}, False),
    ],
)
def test_matches(match: dict[str, object], expected: bool) -> None:
    assert matches(Match.model_validate(match), LABELS) is expected


ROUTES = [
    RouteConfig.model_validate(
        {"match": {"severity": ["critical"]}, "sinks": ["pagerduty"], "continue": True}
    ),
    RouteConfig.model_validate({"match": {"source": "adf"}, "sinks": ["teams"]}),
    RouteConfig.model_validate({"match": {"severity": ["critical", "high"]}, "sinks": ["slack"]}),
    RouteConfig.model_validate({"match": {"workspace": "Finance*"}, "sinks": ["email"]}),
]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical", "source": "powerbi"}, ["pagerduty", "slack"]),  # continue, then next match
        ({"severity": "critical", "source": "adf"}, ["pagerduty", "teams"]),
        ({"severity": "high", "source": "powerbi", "workspace": "Finance"}, ["slack"]),  # first match wins
        ({"severity": "low", "source": "fabric", "workspace": "Finance"}, ["email"]),
        ({"severity": "low", "source": "fabric", "workspace": "HR"}, ["console"]),  # fallback
    ],
)
def test_route(labels: dict[str, str], expected: list[str]) -> None:
    assert route(labels, ROUTES, ["console"]) == expected


WEEKEND = MaintenanceWindow(
    name="weekend", timezone="Europe/Amsterdam", weekdays=("sat", "sun"), start="00:00", end="24:00"
)
NIGHT = MaintenanceWindow(
    name="night", timezone="America/New_York", weekdays=("mon",), start="22:00", end="02:00"
)


@pytest.mark.parametrize(
    ("window", "when", "inside"),
    [
        (WEEKEND, datetime(2025, 4, 5, 12, 0, tzinfo=UTC), True),  # Saturday
        (
            WEEKEND,
            datetime(2025, 4, 4, 22, 30, tzinfo=UTC),
            True,
        ),  # Friday 22:30 UTC = Saturday 00:30 in Amsterdam
        (WEEKEND, datetime(2025, 4, 4, 21, 30, tzinfo=UTC), False),  # Friday 23:30 in Amsterdam
        (NIGHT, datetime(2025, 4, 8, 3, 0, tzinfo=UTC), True),  # Monday 23:00 in New York
        (NIGHT, datetime(2025, 4, 8, 5, 30, tzinfo=UTC), True),  # Tuesday 01:30 in New York, Monday's window
        (NIGHT, datetime(2025, 4, 8, 7, 0, tzinfo=UTC), False),  # Tuesday 03:00
        (NIGHT, datetime(2025, 4, 9, 3, 0, tzinfo=UTC), False),  # Tuesday 23:00: not a Monday window
    ],
)
def test_maintenance_windows(window: MaintenanceWindow, when: datetime, inside: bool) -> None:
    assert in_window(window, when) is inside


def test_silence_expires() -> None:
    s = Silence("s1", Match.model_validate({"code": "53003"}), datetime(2025, 4, 2, 12, tzinfo=UTC))
    assert muted(LABELS, datetime(2025, 4, 2, 11, tzinfo=UTC), [s], [])
    assert not muted(LABELS, datetime(2025, 4, 2, 12, tzinfo=UTC), [s], [])
    assert not muted({**LABELS, "code": "50076"}, datetime(2025, 4, 2, 11, tzinfo=UTC), [s], [])
