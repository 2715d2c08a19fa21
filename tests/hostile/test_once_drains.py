"""``once`` sends every notification in the outbox, or says what is left and exits 1.

Delivery used to take 5,000 due rows per run: ``once`` exited 0 with 15,000 of 20,000 unsent.
The outbox here is filled beforehand (as a daemon that was down for a while leaves it) and
drained to a real webhook receiver on loopback; the cycle polls the demo simulator over HTTPS.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.simulator import Simulator, starting_at
from enricher.config import DeliveryConfig, WebhookSinkConfig
from enricher.sinks.webhook import WebhookSink
from enricher.store import MemoryStore, SQLiteStore, Store
from enricher.wiring.delivery import Deliverer
from enricher.wiring.demo import demo_config_data
from tests.sinks.conftest import firing
from tests.sinks.servers import Receiver, Reply
from tests.test_daemon import SCRIPT, free_port

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """Real time, so the command's clock and the simulator's agree."""
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0) as s:
        yield s


def fill(store: Store, count: int, sink: str, now: datetime) -> None:
    for n in range(count):
        note = dataclasses.replace(firing(), id=f"backlog-{n}", incident_id=f"inc-{n}")
        store.enqueue(note, [sink], now)


def ids(receiver: Receiver) -> set[str]:
    return {str(r.json()["data"]["id"]) for r in receiver.requests}


class TestDeliverDue:
    def test_every_pass_of_the_limit_until_nothing_is_due(self, receiver: Receiver) -> None:
        """1,200 due rows with 100 per pass: all delivered in one call, each once."""
        store = MemoryStore()
        fill(store, 1200, "hook", T0)
        sink = WebhookSink(
            WebhookSinkConfig(name="hook", type="webhook", url=receiver.url, rate_per_second=1e6)
        )
        deliverer = Deliverer(store, {"hook": sink}, DeliveryConfig(), clock=lambda: T0)
        report = deliverer.deliver_due(limit=100)
        assert report.delivered == 1200 and len(receiver.requests) == 1200
        assert ids(receiver) == {f"backlog-{n}" for n in range(1200)}
        assert store.backlog() == {}

    def test_a_destination_that_fails_ends_the_passes(self, receiver: Receiver) -> None:
        """Everything answered 503: each row is tried once and waits for its retry; the call returns."""
        receiver.default = Reply(status=503)
        store = MemoryStore()
        fill(store, 300, "hook", T0)
        sink = WebhookSink(
            WebhookSinkConfig(name="hook", type="webhook", url=receiver.url, rate_per_second=1e6)
        )
        deliverer = Deliverer(store, {"hook": sink}, DeliveryConfig(), clock=lambda: T0)
        report = deliverer.deliver_due(limit=100)
        assert report.retried == 300 and report.delivered == 0
        assert store.backlog()["hook"].depth == 300


def write_config(sim: Simulator, tmp_path: Path, receiver: Receiver) -> Path:
    data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{free_port()}")
    data["sinks"] = [{"name": "hook", "type": "webhook", "url": receiver.url, "rate_per_second": 1_000_000}]
    data["incidents"] = {"group_wait": "0s"}
    data["log"] = {"format": "json"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class TestOnce:
    def test_a_backlog_over_the_old_cap_is_sent_in_full(
        self, sim: Simulator, tmp_path: Path, receiver: Receiver
    ) -> None:
        config = write_config(sim, tmp_path, receiver)
        store = SQLiteStore(tmp_path / "state" / "state.db")
        fill(store, 5200, "hook", datetime.now(UTC))
        store.close()
        done = subprocess.run(
            [SCRIPT, "once", "--config", str(config)], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
        assert {f"backlog-{n}" for n in range(5200)} <= ids(receiver)
        assert len(receiver.requests) > 5200  # and the cycle's own notifications
        assert "left in the outbox" not in done.stdout

    def test_what_cannot_be_sent_is_counted_and_exit_is_1(
        self, sim: Simulator, tmp_path: Path, receiver: Receiver
    ) -> None:
        receiver.default = Reply(status=503)
        config = write_config(sim, tmp_path, receiver)
        store = SQLiteStore(tmp_path / "state" / "state.db")
        fill(store, 40, "hook", datetime.now(UTC))
        store.close()
        done = subprocess.run(
            [SCRIPT, "once", "--config", str(config)], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 1
        left = [line for line in done.stdout.splitlines() if line.startswith("left in the outbox: ")]
        assert len(left) == 1 and left[0].endswith(f"(hook {len(ids(receiver))})"), done.stdout
        assert len(ids(receiver)) > 40  # the backlog and the cycle's new ones, each tried once
