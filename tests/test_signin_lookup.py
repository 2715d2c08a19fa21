"""The sign-in look-up wired into the daemon, over HTTPS against the simulator's Graph: the cause
found and named, a late sign-in announced once, a restart that neither loses nor repeats it, a
tenant without the licence or the permissions, and Graph's request budget."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.simulator import Simulator
from connectors.simulator.scenario import Scenario
from enricher import config as cfg
from enricher.dashboard.view import incident_json, incident_view
from enricher.notification import Notification
from enricher.store import MemoryStore, SQLiteStore, Store
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data, run_demo
from tests.fakes import MemorySink

POLICY = "Block access from untrusted locations"
KEYS = {"id", "event_type", "status", "policies", "ip", "location", "device", "app_id", "principal", "url"}


def scenario(*, tenant: dict[str, Any] | None = None, **daemon: Any) -> Scenario:
    """The demo scenario with changes to the Contoso tenant and to the daemon's own app."""
    text = resources.files("connectors.simulator").joinpath("scenarios", "demo.yaml").read_text()
    data = yaml.safe_load(text)
    contoso = data["tenants"][0]
    contoso.update(tenant or {})
    contoso["apps"][0].update(daemon)
    return Scenario.model_validate(data)


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    with Simulator(scenario=getattr(request, "param", "demo"), port=0, speed=0) as s:
        yield s


def service(
    sim: Simulator, tmp_path: Path, sink: MemorySink, *, store: Store | None = None, **lookup: Any
) -> Service:
    data = demo_config_data(sim, tmp_path)
    data["tenants"][0]["signin_lookup"] = {"enabled": True, **lookup}
    config = cfg.Config.model_validate(data)
    return Service(
        config, tmp_path, clock=sim.clock.now, sinks={"console": sink}, store=store or MemoryStore()
    )


def by_code(sent: list[Notification], code: str) -> list[Notification]:
    return [n for n in sent if n.code == code and n.kind != "credential_expiry"]


class TestCauseFound:
    def test_a_53003_alert_names_the_failed_policy(self, sim: Simulator, tmp_path: Path) -> None:
        """The first message of a 53003 carries the sign-in, its policy, and steps naming it."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink)
        report, _ = svc.cycle()
        assert report.ok
        [alert] = by_code(sink.sent, "53003")
        signin = alert.to_dict()["signin"]
        assert set(signin) == KEYS
        assert set(signin["status"]) == {"code", "reason"} and signin["status"]["code"] == 53003
        assert [p["name"] for p in signin["policies"]] == [POLICY]
        assert set(signin["policies"][0]) == {"id", "name", "result", "grant_controls"}
        assert signin["policies"][0]["result"] == "failure"
        assert signin["url"].startswith("https://entra.microsoft.com/")
        assert POLICY in alert.cause
        assert any(f'the policy "{POLICY}"' in f.step for f in alert.fixes)
        svc.close()

    def test_the_dashboard_api_carries_it(self, sim: Simulator, tmp_path: Path) -> None:
        """``/api/incidents`` JSON: the 53003 incident has the same ``signin``; others ``null``."""
        svc = service(sim, tmp_path, MemorySink("console"))
        svc.cycle()
        listed = {i.code: incident_json(incident_view(i)) for i in svc.store.incidents()}
        assert [p["name"] for p in listed["53003"]["signin"]["policies"]] == [POLICY]
        assert listed["7000222"]["signin"] is None
        svc.close()

    def test_codes_about_the_app_are_not_looked_up(self, sim: Simulator, tmp_path: Path) -> None:
        """An expired secret (7000222) costs no Graph request and carries no ``signin`` field."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink)
        svc.cycle()
        [alert] = by_code(sink.sent, "7000222")
        assert alert.signin is None and "signin" not in alert.to_dict()
        svc.close()


@pytest.mark.parametrize("sim", [scenario(tenant={"signins": {"delay_seconds": 6 * 3600}})], indirect=True)
class TestLateSignin:
    def test_found_later_is_announced_once(self, sim: Simulator, tmp_path: Path) -> None:
        """Not in the log yet: the alert goes out without it; once it appears, ONE update follows."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink, window="6h")
        svc.cycle()
        [first] = by_code(sink.sent, "53003")
        assert first.kind == "firing" and first.signin is None
        sim.clock.advance(timedelta(hours=3))
        svc.cycle()
        sim.clock.advance(timedelta(minutes=30))
        svc.cycle()
        updates = [n for n in by_code(sink.sent, "53003") if n.kind == "update"]
        assert len(updates) == 1
        assert [p["name"] for p in (updates[0].signin or {})["policies"]] == [POLICY]
        assert updates[0].incident_id == first.incident_id
        assert updates[0].title == f"Cause found: {first.title}" and POLICY in updates[0].cause
        svc.close()

    def test_restart_neither_loses_nor_repeats_it(self, sim: Simulator, tmp_path: Path) -> None:
        """The queue is in the store: a look-up queued before a restart is answered after it, once."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink, store=SQLiteStore(tmp_path / "state.db"), window="6h")
        svc.cycle()
        svc.close()
        sim.clock.advance(timedelta(hours=3, minutes=30))
        for _ in range(2):
            svc = service(sim, tmp_path, sink, store=SQLiteStore(tmp_path / "state.db"), window="6h")
            svc.cycle()
            svc.close()
            sim.clock.advance(timedelta(minutes=20))
        updates = [n for n in by_code(sink.sent, "53003") if n.kind == "update"]
        assert len(updates) == 1 and updates[0].signin is not None


class TestDegrades:
    @pytest.mark.parametrize(
        ("sim", "missing"),
        [
            (scenario(tenant={"entra_premium": False}), "licence"),
            (scenario(audit_log_read=False), "AuditLog.Read.All"),
        ],
        indirect=["sim"],
    )
    def test_a_refused_log_costs_one_notice(self, sim: Simulator, tmp_path: Path, missing: str) -> None:
        """No licence or no AuditLog.Read.All: one self notice naming it, no error per incident."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink)
        for _ in range(3):
            report, _ = svc.cycle()
            assert report.ok
            sim.clock.advance(timedelta(minutes=5))
        notices = [n for n in sink.sent if n.source == "self"]
        assert len(notices) == 1 and missing in notices[0].title
        assert "cannot name" in notices[0].summary
        assert all(n.signin is None for n in sink.sent)
        svc.close()

    @pytest.mark.parametrize("sim", [scenario(ca_policy_read=False)], indirect=True)
    def test_without_policy_read_the_signin_comes_without_policies(
        self, sim: Simulator, tmp_path: Path
    ) -> None:
        """No Policy.Read.All: the sign-in is still found (IP, account), one notice names the gap."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink)
        svc.cycle()
        sim.clock.advance(timedelta(minutes=5))
        svc.cycle()
        [alert] = by_code(sink.sent, "53003")
        assert alert.signin is not None and alert.signin["policies"] == [] and alert.signin["ip"]
        notices = [n for n in sink.sent if n.source == "self"]
        assert len(notices) == 1 and "Policy.Read.All" in notices[0].title
        svc.close()


class TestBudget:
    def test_requests_per_cycle_stay_within_max_per_cycle(self, sim: Simulator, tmp_path: Path) -> None:
        """Graph reporting allows 5 requests per 10 s: a cycle never asks more than configured."""
        sink = MemorySink("console")
        svc = service(sim, tmp_path, sink, max_per_cycle=1)
        http = svc.tenants[0].http
        svc.pipeline.poll(svc.jobs[0], sim.clock.now())  # Power BI: 53003 and 50076 queue look-ups
        before = http.requests["graph"]
        svc.signins.drain(sim.clock.now())
        assert http.requests["graph"] - before == 1
        svc.close()


class TestDemo:
    def test_make_demo_names_the_policy_of_the_53003(self, capsys: pytest.CaptureFixture[str]) -> None:
        """What `make demo` prints: the 53003 alert names the Conditional Access policy."""
        assert run_demo(1, json_lines=False, speed=300, interval=0, colour=False, out=io.StringIO()) == 0
        text = capsys.readouterr().out
        block = text[text.index("AADSTS53003") :]
        assert POLICY in block[: block.index("\n\n")]

    def test_demo_json_carries_the_signin(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``demo --json``: the 53003 line has ``signin`` with the contract's keys."""
        run_demo(1, json_lines=True, speed=300, interval=0, colour=False, out=io.StringIO())
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        [line] = [d for d in lines if d["code"] == "53003"]
        assert set(line["signin"]) == KEYS
        assert all("signin" not in d for d in lines if d["code"] == "7000222")
