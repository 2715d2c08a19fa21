"""``routes test``: the flush's own decisions for a label set, as a table and through the command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.records import RunRecord, RunStatus, Source
from enricher.cli import main
from enricher.config import Config
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Policy, on_failure
from enricher.core.knowledge import load_knowledge
from enricher.core.routing import Silence
from enricher.core.routing_trace import trace
from enricher.store import SQLiteStore

SAT_3AM = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # a Saturday, inside the patch window
MON_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CONFIG: dict[str, Any] = {
    "tenants": [
        {
            "name": "contoso",
            "tenant_id": "72f988bf-0000-0000-0000-000000000000",
            "credential": {"type": "client_secret", "client_id": "c1", "client_secret": "s3cr3t-value"},
            "sources": [{"type": "powerbi"}],
        }
    ],
    "sinks": [
        {"name": "screen", "type": "console"},
        {"name": "pager", "type": "jsonl", "path": "pager.jsonl", "send_resolved": False},
        {"name": "archive", "type": "jsonl", "path": "archive.jsonl"},
    ],
    "routes": [
        {"match": {"severity": "critical"}, "sinks": ["pager"], "continue": True},
        {"match": {"code": "53003"}, "sinks": ["screen"]},
        {"match": {"source": "adf"}, "sinks": ["archive"]},
    ],
    "default_sinks": ["screen"],
    "silences": [
        {"match": {"workspace": "Sandbox*"}, "ends_at": "2099-01-01T00:00:00Z", "comment": "rebuild"},
        {"match": {"workspace": "Old*"}, "ends_at": "2020-01-01T00:00:00Z"},
    ],
    "maintenance": [
        {"name": "patch", "weekdays": ["sat"], "start": "02:00", "end": "04:00", "match": {"source": "adf"}}
    ],
    "inhibit_rules": [
        {"source_matchers": ['code="90002"'], "target_matchers": ['code!="90002"'], "equal": ["tenant"]}
    ],
}


def config() -> Config:
    return Config.model_validate(CONFIG)


class TestTrace:
    @pytest.mark.parametrize(
        ("labels", "routes", "sinks", "fallback"),
        [
            ({"severity": "critical", "code": "53003"}, [0, 1], ["pager", "screen"], False),  # continue
            ({"severity": "high", "code": "53003", "source": "adf"}, [1], ["screen"], False),  # first wins
            ({"severity": "high", "source": "adf"}, [2], ["archive"], False),
            ({"severity": "low", "source": "fabric"}, [], ["screen"], True),  # default_sinks
            ({"severity": "critical", "source": "fabric"}, [0], ["pager"], False),  # continue, then none
        ],
    )
    def test_routes_and_sinks(
        self, labels: dict[str, str], routes: list[int], sinks: list[str], fallback: bool
    ) -> None:
        t = trace(labels, config(), MON_NOON)
        assert [r.index for r in t.routes] == routes and list(t.sinks) == sinks and t.fallback is fallback

    @pytest.mark.parametrize(
        ("labels", "now", "held"),
        [
            ({"workspace": "Sandbox-7"}, MON_NOON, "silence"),
            ({"workspace": "Old-1"}, MON_NOON, None),  # that silence has ended
            ({"source": "adf"}, SAT_3AM, "maintenance"),
            ({"source": "adf"}, MON_NOON, None),  # the window matches but is not open
            ({"source": "powerbi"}, SAT_3AM, None),
            ({"source": "adf", "workspace": "Sandbox"}, SAT_3AM, "silence"),  # a silence is named first
        ],
    )
    def test_what_holds_it(self, labels: dict[str, str], now: datetime, held: str | None) -> None:
        assert trace(labels, config(), now).held == held

    def test_a_stored_silence_counts_like_a_configured_one(self) -> None:
        stored = Silence(
            "abc123",
            config().silences[0].match.model_copy(update={"workspace": ("Fin*",)}),
            SAT_3AM + timedelta(hours=1),
        )
        t = trace({"workspace": "Finance"}, config(), SAT_3AM, [stored])
        assert t.held == "silence" and [s.id for s in t.silences] == ["abc123"]

    def test_inhibition_is_named_and_decided_from_the_open_incidents(self) -> None:
        labels = {"code": "53003", "tenant": "contoso"}
        outage = {"code": "90002", "tenant": "contoso"}
        (step,) = trace(labels, config(), MON_NOON).inhibit_rules
        assert step.target and not step.source and step.held_now is None  # no state: unknown
        assert trace(labels, config(), MON_NOON, open_labels=[outage]).held == "inhibited"
        elsewhere = [{**outage, "tenant": "fabrikam"}]
        t = trace(labels, config(), MON_NOON, open_labels=elsewhere)
        assert t.held is None and t.inhibit_rules[0].held_now is False
        (source,) = trace(outage, config(), MON_NOON, open_labels=[outage]).inhibit_rules
        assert source.source and not source.target and source.held_now is False


def write(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    data = {**CONFIG, "state": {"path": str(tmp_path / "state")}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class TestCommand:
    def test_text_names_routes_sinks_and_verdict(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["routes", "test", "--config", str(write(tmp_path)), "severity=critical", "code=AADSTS53003"]
        assert main(argv) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "labels: severity=critical code=53003"
        assert "route 0: severity=critical -> pager (continue)" in out
        assert "route 1: code=53003 -> screen" in out
        assert "sinks: pager, screen" in out
        assert "not told of recovery (send_resolved: false): pager" in out
        assert out[-1] == "verdict: sent now to pager, screen"

    def test_json_contract(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        argv = ["routes", "test", "--config", str(write(tmp_path)), "--json", "--at", "2026-12-05T03:00:00Z"]
        assert main([*argv, "source=adf", "tenant=contoso"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert set(data) == {
            "labels",
            "routes",
            "sinks",
            "fallback",
            "no_resolved",
            "silences",
            "maintenance",
            "inhibit_rules",
            "held",
        }
        assert data["routes"] == [
            {"index": 2, "match": {"source": ["adf"]}, "sinks": ["archive"], "continue": False}
        ]
        assert data["maintenance"] == [{"name": "patch", "active": True}] and data["held"] == "maintenance"
        assert data["inhibit_rules"] == [{"index": 0, "target": True, "source": False, "held_now": None}]

    def test_expect_fails_when_the_routes_pick_other_sinks(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = str(write(tmp_path))
        assert (
            main(
                [
                    "routes",
                    "test",
                    "--config",
                    path,
                    "--expect",
                    "pager,screen",
                    "severity=critical",
                    "code=53003",
                ]
            )
            == 0
        )
        assert (
            main(["routes", "test", "--config", path, "--expect", "pager", "severity=critical", "code=53003"])
            == 1
        )
        assert capsys.readouterr().out.splitlines()[-1] == "expected pager: routes pick pager, screen"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["sev=critical"], "'sev=critical': no label 'sev'"),
            (["severity"], "'severity': expected LABEL=VALUE"),
            (["code=1", "code=2"], "code given twice"),
            (["--at", "tomorrow"], "--at: 'tomorrow' is not an ISO 8601 time"),
            (["--expect", "slack"], "--expect: no sink named 'slack'"),
            (["--with-state"], "--with-state: no state database at"),  # and none is created
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        assert main(["routes", "test", "--config", str(write(tmp_path)), *args]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err
        assert not (tmp_path / "state").exists()

    def test_with_state_reads_stored_silences_and_open_incidents(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A silence added with ``silence add`` and an open 90002 incident in the state database."""
        path = str(write(tmp_path))
        assert main(["silence", "add", "--config", path, "--match", "item=Board*", "--duration", "1h"]) == 0
        store = SQLiteStore(tmp_path / "state" / "state.db")
        book, now = Book(), datetime.now(UTC)
        run = RunRecord(
            Source.POWERBI,
            "contoso",
            "w1",
            "Finance",
            "ds1",
            "Sales",
            "dataset",
            "r1",
            RunStatus.FAILED,
            ended_at=now,
            error_text="AADSTS90002: Tenant 'x' not found.",
        )
        alert = enrich(run, detect(run.error_text), load_knowledge())
        assert alert is not None
        on_failure(book, alert, now, Policy())
        store.save_book(book, now)
        store.close()
        capsys.readouterr()
        base = ["routes", "test", "--config", path, "--with-state", "code=53003", "tenant=contoso"]
        assert main([*base, "item=Board Pack"]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == "verdict: held by a silence"
        assert main(base) == 0
        out = capsys.readouterr().out.splitlines()
        assert (
            'inhibit 0: held while an incident matching code="90002" is open with the same tenant: held now'
            in out
        )
        assert out[-1] == "verdict: held by an inhibition rule"
        assert (
            main(["routes", "test", "--config", path, "--with-state", "code=53003", "tenant=fabrikam"]) == 0
        )
        assert capsys.readouterr().out.splitlines()[-1] == "verdict: sent now to screen"
