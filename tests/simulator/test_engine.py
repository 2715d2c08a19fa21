"""The scenario engine without HTTP: schedules, runs, failure windows, validation, the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.simulator import ScenarioError, SimClock, load_scenario
from connectors.simulator.model import FailureWindow, Job
from connectors.simulator.runs import disabled_at, latest_runs, run_at, runs_between
from connectors.simulator.scenario import parse_scenario
from connectors.simulator.schedule import Schedule
from connectors.simulator.timefmt import entra, parse_duration, parse_offset, powerbi, ticks, ticks_z

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC).timestamp()


def _job(schedule: Schedule, *failures: FailureWindow, disable_after: int | None = None) -> Job:
    return Job(1, 12345, schedule, 120.0, T0 - 7 * 86_400, failures, disable_after)


class TestSchedule:
    @pytest.mark.parametrize(
        ("schedule", "t", "expected"),
        [
            (Schedule(every=900), T0, T0),
            (Schedule(every=3600, offset=1800), T0, T0 - 1800),
            (Schedule(times=(5 * 3600 + 1800, 17 * 3600 + 1800)), T0, T0 - 1800),
            (Schedule(times=(5 * 3600 + 1800, 17 * 3600 + 1800)), T0 - 2 * 3600, T0 - 12 * 3600 - 1800),
        ],
    )
    def test_last_slot_at_or_before(self, schedule: Schedule, t: float, expected: float) -> None:
        assert schedule.slot(schedule.last_index(t)) == expected

    def test_days_filter(self) -> None:
        """2025-04-02 is a Wednesday; a Monday-only schedule has no slot that day."""
        monday = Schedule(times=(6 * 3600,), days=frozenset({0}))
        slots = [monday.slot(i) for i in monday.indexes(T0 - 7 * 86_400, T0)]
        assert [datetime.fromtimestamp(s, UTC).strftime("%A") for s in slots] == ["Monday"]

    def test_power_bi_views(self) -> None:
        assert Schedule(every=21_600, offset=1800).times_of_day() == ["00:30", "06:30", "12:30", "18:30"]
        assert Schedule(times=(0,), days=frozenset({4, 0})).weekday_names() == ["Monday", "Friday"]


class TestRuns:
    def test_runs_are_deterministic_and_jittered(self) -> None:
        job = _job(Schedule(every=900))
        first, again = runs_between(job, T0 - 3600, T0, T0), runs_between(job, T0 - 3600, T0, T0)
        assert first == again and len(first) in (3, 4)
        assert all(0 < r.start - job.schedule.slot(r.slot) < 20 for r in first)

    def test_failure_window_and_pattern(self) -> None:
        window = FailureWindow(53003, "oauth", start=T0 - 3600, end=T0 + 1800)
        job = _job(Schedule(every=900), window)
        outcomes = [
            (r.start < T0 + 1800, r.failure is not None)
            for r in runs_between(job, T0 - 7200, T0 + 3600, T0 + 3600)
        ]
        assert outcomes == [(True, False)] * 4 + [(True, True)] * 6 + [(False, False)] * 2
        flapping = _job(Schedule(every=900), FailureWindow(50076, "oauth", pattern="FFS"))
        marks = "".join("F" if r.failure else "S" for r in runs_between(flapping, T0 - 9 * 900 + 60, T0, T0))
        assert marks in {"FFSFFSFF", "FSFFSFFS", "SFFSFFSF"}

    def test_in_progress_until_the_planned_end(self) -> None:
        job = _job(Schedule(every=900))
        run = run_at(job, job.schedule.last_index(T0))
        assert run.running(run.start + 1) and not run.running(run.end)

    def test_four_consecutive_failures_disable_the_schedule(self) -> None:
        """disabled_at is the end of the 4th failed run; no run starts afterwards."""
        job = _job(Schedule(every=3600), FailureWindow(53003, "oauth", start=T0 - 5 * 3600), disable_after=4)
        cut = disabled_at(job)
        assert cut is not None and T0 - 2 * 3600 < cut < T0 - 3600 + 120
        runs = latest_runs(job, T0 + 86_400, 10)
        assert runs[0].end == cut and [bool(r.failure) for r in runs[:5]] == [True] * 4 + [False]

    def test_a_flapping_pattern_never_disables(self) -> None:
        job = _job(Schedule(every=900), FailureWindow(50076, "oauth", pattern="FFFS"), disable_after=4)
        assert disabled_at(job) is None


class TestFormats:
    def test_each_wire_format(self) -> None:
        moment = datetime(2025, 4, 2, 6, 0, 41, 927123, tzinfo=UTC)
        assert powerbi(moment) == "2025-04-02T06:00:41.927Z"
        assert ticks(moment)[:-1] == "2025-04-02T06:00:41.927123" and len(ticks(moment)) == 27
        assert ticks_z(moment).endswith("Z") and entra(moment) == "2025-04-02 06:00:41Z"

    @pytest.mark.parametrize(
        ("text", "seconds"), [("15m", 900), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400)]
    )
    def test_durations(self, text: str, seconds: int) -> None:
        assert parse_duration(text).total_seconds() == seconds

    def test_offsets(self) -> None:
        assert parse_offset("-2h") == -timedelta(hours=2) and parse_offset("+30m") == timedelta(minutes=30)
        with pytest.raises(ValueError):
            parse_offset("2h")


class TestScenarioFiles:
    def test_bundled_scenarios_load(self) -> None:
        assert load_scenario("demo").clock.speed == 60
        assert load_scenario("scale").tenants[0].generate is not None

    def test_unknown_keys_are_errors_with_the_path(self) -> None:
        data = load_scenario("demo").model_dump(by_alias=True)
        data["tenants"][0]["apps"][0]["admin"] = True
        with pytest.raises(ScenarioError, match=r"tenants\.0\.apps\.0\.admin"):
            parse_scenario(data)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (
                lambda d: d["tenants"][0]["powerbi"]["workspaces"][0]["datasets"][0].update(
                    schedule={"every": "soon"}
                ),
                "duration",
            ),
            (
                lambda d: d["tenants"][0]["powerbi"]["workspaces"][3].update(
                    members=["1" * 8 + "-1111-4111-8111-" + "1" * 12]
                ),
                "unknown client ids",
            ),
            (
                lambda d: d["tenants"][0]["powerbi"]["workspaces"][0]["datasets"][0].update(
                    failure={"pattern": "FX"}
                ),
                "pattern",
            ),
            (lambda d: d.update(clock={"start": "2025-04-02T06:00:00"}), "zone"),
        ],
    )
    def test_invalid_values_are_explained(self, change: Callable[[Any], None], message: str) -> None:
        data = load_scenario("demo").model_dump(by_alias=True)
        change(data)
        with pytest.raises(ScenarioError, match=message):
            parse_scenario(data)

    def test_a_path_and_an_unknown_name(self, tmp_path: Path) -> None:
        path = tmp_path / "tiny.yaml"
        path.write_text(
            "name: tiny\nseed: 1\nclock: {start: '2025-01-01T00:00:00Z'}\n"
            "tenants:\n  - {id: 11111111-1111-4111-8111-111111111111, domain: tiny.example}\n",
            encoding="utf-8",
        )
        assert load_scenario(path).name == "tiny"
        with pytest.raises(ScenarioError, match="bundled ones are"):
            load_scenario("nope")
        path.write_text("name: [", encoding="utf-8")
        with pytest.raises(ScenarioError, match="not valid YAML"):
            load_scenario(path)


class TestClock:
    def test_speed_advance_and_freeze(self) -> None:
        real = [100.0]
        clock = SimClock(datetime(2025, 4, 2, 6, tzinfo=UTC), speed=60, real=lambda: real[0])
        real[0] += 2
        assert clock.now() == datetime(2025, 4, 2, 6, 2, tzinfo=UTC)
        clock.speed = 0
        real[0] += 100
        assert clock.now() == datetime(2025, 4, 2, 6, 2, tzinfo=UTC)
        assert clock.advance(timedelta(hours=1)) == datetime(2025, 4, 2, 7, 2, tzinfo=UTC)
        assert clock.real_seconds(30) == 30
        clock.speed = 10
        assert clock.real_seconds(30) == 3
