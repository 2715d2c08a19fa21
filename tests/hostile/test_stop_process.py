"""SIGTERM ends a real daemon whose poll is stuck on a hostile peer.

The harness measures a bound, not a speed: after SIGTERM the process must have exited within
``BOUND`` seconds (it takes about one when it works; before, a token endpoint's one-hour
Retry-After kept it alive for the hour)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.simulator import FaultRule, Simulator, starting_at
from enricher.wiring.demo import demo_config_data
from tests.hostile.stubs import HostileServer, trickle
from tests.test_daemon import SCRIPT, free_port, wait_for

BOUND = 20.0


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0) as s:
        yield s


def config(sim: Simulator, tmp_path: Path, **endpoints: str) -> Path:
    data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{free_port()}")
    tenant = data["tenants"][0]
    tenant["sources"] = [{"type": "powerbi", "mode": "admin", "interval": "1h"}]
    tenant["endpoints"].update(endpoints)
    if "ca_bundle" in endpoints:
        tenant["ca_bundle"] = tenant["endpoints"].pop("ca_bundle")
    data["sinks"] = [{"name": "file", "type": "jsonl", "path": str(tmp_path / "out.jsonl")}]
    data["log"] = {"format": "json"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stop_and_wait(config_path: Path, tmp_path: Path, stuck) -> int:  # type: ignore[no-untyped-def]
    log = (tmp_path / "daemon.log").open("ab")
    proc = subprocess.Popen([SCRIPT, "run", "--config", str(config_path)], stdout=log, stderr=log)
    try:
        assert wait_for(stuck, 60), (tmp_path / "daemon.log").read_text()
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {BOUND} s after SIGTERM: " + (tmp_path / "daemon.log").read_text()[-2000:]
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("retry_after", [3600, 50])
def test_sigterm_while_the_token_endpoint_asks_to_wait(
    live_sim: Simulator, tmp_path: Path, retry_after: int
) -> None:
    rule = live_sim.faults.add(FaultRule(api="token", kind="throttle", retry_after=retry_after))
    code = stop_and_wait(config(live_sim, tmp_path), tmp_path, lambda: live_sim.faults.fired(rule) >= 1)
    assert code == 0


def test_sigterm_while_an_api_trickles_one_byte_at_a_time(live_sim: Simulator, tmp_path: Path) -> None:
    server = HostileServer(lambda line, sock, stopping: None, extra_ca=live_sim.ca_path)
    server.behaviour = trickle(server, b'{"value": []}' + b" " * 10_000, 2.0)
    with server:
        path = config(live_sim, tmp_path, powerbi=server.url, ca_bundle=str(server.bundle))
        code = stop_and_wait(path, tmp_path, lambda: len(server.requests) >= 1)
    assert code == 0
    assert server.sent < 10_000


def test_a_corrupt_state_file_stops_the_daemon_with_one_line(live_sim: Simulator, tmp_path: Path) -> None:
    """Pages in the middle of state.db overwritten: run exits 1 and says why, instead of failing
    every job while /readyz says ready."""
    path = config(live_sim, tmp_path)
    once = subprocess.run([SCRIPT, "once", "--config", str(path)], capture_output=True, timeout=120)
    assert once.returncode in (0, 1), once.stderr
    db = tmp_path / "state" / "state.db"
    data = bytearray(db.read_bytes())
    assert len(data) > 5 * 4096
    data[2 * 4096 : len(data) - 4096] = bytes(range(256)) * ((len(data) - 3 * 4096) // 256) + bytes(
        (len(data) - 3 * 4096) % 256
    )
    db.write_bytes(bytes(data))
    log = (tmp_path / "daemon.log").open("ab")
    proc = subprocess.Popen([SCRIPT, "run", "--config", str(path)], stdout=log, stderr=log)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(
            "a daemon on a corrupt state file kept running: " + (tmp_path / "daemon.log").read_text()[-2000:]
        )
    text = (tmp_path / "daemon.log").read_text()
    assert code in (1, 2), text[-2000:]
    assert "corrupt" in text or "malformed" in text, text[-2000:]
