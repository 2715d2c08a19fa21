"""The whole cycle against the bundled simulator: real HTTPS, real azure-identity, a real store."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.simulator import FaultRule, Simulator
from enricher.logs import setup
from enricher.notification import Notification
from enricher.store import MemoryStore, SQLiteStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

DEMO_CODES = {"53003", "7000222", "700082", "50076", "50000", "7000215", "700016"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:  # a frozen clock, stepped by the tests
        yield s


def service(sim: Simulator, tmp_path: Path, sink: MemorySink, *, sqlite: bool = False) -> Service:
    config = demo_config(sim, tmp_path, json_lines=False, colour=False)
    store = SQLiteStore(tmp_path / "state.db") if sqlite else MemoryStore()
    return Service(config, tmp_path, clock=sim.clock.now, sinks={"console": sink}, store=store)


def failures(sink: MemorySink) -> list[Notification]:
    """What the runs caused (the credential forecast's warnings are tested in test_credential_expiry)."""
    return [n for n in sink.sent if not n.incident_id.startswith("credential:")]


def test_first_cycle_explains_every_demo_failure_once(sim: Simulator, tmp_path: Path) -> None:
    sink = MemorySink("console")
    svc = service(sim, tmp_path, sink)
    report, _ = svc.cycle()
    assert report.ok, [p.errors for p in report.polls]
    sent = failures(sink)
    assert {n.code for n in sent} >= DEMO_CODES
    assert all(n.kind == "firing" for n in sent)
    assert len({(n.incident_id) for n in sent}) == len(sent)  # nothing twice
    by_code = {n.code: n for n in sent}
    # Power BI has already disabled the Finance Board Pack schedule (schedule_failures_left 0): critical
    assert by_code["53003"].schedule_failures_left == 0
    assert by_code["53003"].severity == "critical" and by_code["7000222"].severity == "critical"
    assert by_code["7000222"].item.container_name == "adf-sales-prod"
    assert by_code["7000222"].excerpt.startswith("AADSTS7000222")
    assert len(by_code["7000222"].correlation_id or "") == 36
    assert (
        by_code["53003"].labels["workspace"] == "Finance"
        and by_code["53003"].labels["severity"] == "critical"
    )
    assert by_code["53003"].consecutive_failures and by_code["53003"].schedule_failures_left is not None
    again, _ = svc.cycle()
    assert again.ok and len(failures(sink)) == len(by_code)  # the same failures again: no new message
    svc.close()


def test_transient_failure_resolves(sim: Simulator, tmp_path: Path) -> None:
    sink = MemorySink("console")
    svc = service(sim, tmp_path, sink)
    svc.cycle()
    sim.clock.advance(timedelta(minutes=30))
    svc.cycle()
    resolved = [n for n in sink.sent if n.kind == "resolved"]
    assert [n.code for n in resolved] == ["50000"]
    assert resolved[0].duration and resolved[0].duration > timedelta(minutes=15)
    # the open-incidents gauge follows each poll's changes and agrees with the store's own count
    counts = svc.store.open_counts()
    assert sum(counts.values()) == len({n.incident_id for n in failures(sink)}) - 1
    for severity in ("critical", "high", "medium", "low", "info"):
        gauge = svc.metrics.value("aadsts_enricher_incidents_open", {"severity": severity})
        assert gauge == counts.get(severity, 0), severity
    svc.close()


def test_restart_sends_nothing_twice(sim: Simulator, tmp_path: Path) -> None:
    first = MemorySink("console")
    svc = service(sim, tmp_path, first, sqlite=True)
    svc.cycle()
    svc.close()
    second = MemorySink("console")
    svc = service(sim, tmp_path, second, sqlite=True)
    sim.clock.advance(timedelta(minutes=5))
    svc.cycle()
    svc.close()
    assert first.sent and all(n.kind != "firing" for n in second.sent)


def test_sink_down_then_back(sim: Simulator, tmp_path: Path) -> None:
    """Notifications wait in the outbox while the sink is down, then arrive once each."""
    sink = MemorySink("console")
    sink.down = True
    svc = service(sim, tmp_path, sink)
    _, delivery = svc.cycle()
    assert delivery.delivered == 0 and delivery.retried > 0 and sink.sent == []
    sink.down = False
    sim.clock.advance(timedelta(minutes=15))  # past the retry backoff
    svc.deliverer.deliver_due()
    assert {n.code for n in sink.sent} >= DEMO_CODES
    assert len(sink.sent) == len({n.id for n in sink.sent})
    svc.close()


def test_malformed_answer_loses_nothing(sim: Simulator, tmp_path: Path) -> None:
    """A source answering garbage is reported, the others go on, and the next cycle catches up."""
    sink = MemorySink("console")
    svc = service(sim, tmp_path, sink)
    sim.faults.add(FaultRule(api="fabric", kind="malformed", rate=1.0))
    report, _ = svc.cycle()
    fabric = next(p for p in report.polls if p.source.endswith("fabric"))
    assert fabric.errors and not report.ok
    assert "7000215" not in {n.code for n in sink.sent} and "53003" in {n.code for n in sink.sent}
    sim.faults.clear()
    report, _ = svc.cycle()
    assert report.ok and "7000215" in {n.code for n in sink.sent}
    svc.close()


def test_own_sign_in_failure_is_an_alert(sim: Simulator, tmp_path: Path) -> None:
    sink = MemorySink("console")
    config = demo_config(sim, tmp_path, json_lines=False, colour=False)
    bad = config.model_copy(deep=True)
    tenant = bad.tenants[0]
    cred = tenant.credential.model_copy(
        update={"client_secret": type(tenant.credential.client_secret)("wrong")}
    )
    bad = bad.model_copy(update={"tenants": (tenant.model_copy(update={"credential": cred}),)})
    svc = Service(bad, tmp_path, clock=sim.clock.now, sinks={"console": sink}, store=MemoryStore())
    report, _ = svc.cycle()
    assert all(p.auth_error for p in report.polls)
    own = [n for n in sink.sent if n.source == "self"]
    assert own and own[0].code == "7000215" and own[0].severity in ("critical", "high")
    assert len(own) == 1 or len({n.items[0].item_id for n in own}) == len(own)
    svc.close()


def test_no_secret_in_logs_or_state(sim: Simulator, tmp_path: Path) -> None:
    """A full cycle with debug logging: the client secret appears in no log line and no stored row."""
    stream = _Capture()
    config = demo_config(sim, tmp_path, json_lines=False, colour=False)
    secret = config.tenants[0].credential.client_secret.get_secret_value()  # type: ignore[union-attr]
    setup("debug", "json", [secret], stream)
    svc = Service(
        config,
        tmp_path,
        clock=sim.clock.now,
        sinks={"console": MemorySink("console")},
        store=SQLiteStore(tmp_path / "state.db"),
    )
    logging.getLogger("test").info("client_secret=%s bearer", secret)
    svc.cycle()
    svc.close()
    logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert text and "***" in text and secret not in text
    for line in text.splitlines():
        json.loads(line)
    db = sqlite3.connect(tmp_path / "state.db")
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in db.execute(f"SELECT * FROM {table}").fetchall():
            assert secret not in json.dumps(row, default=str)


class _Capture:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def getvalue(self) -> str:
        return "".join(self.parts)
