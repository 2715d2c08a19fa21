"""The daemon as users run it: a real process, real signals, a real simulator on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.simulator import Simulator, starting_at
from enricher.wiring.demo import demo_config_data

EXPECTED = {"53003", "7000222", "700082", "50076", "50000", "7000215", "700016"}
SCRIPT = str(Path(sys.executable).with_name("aadsts-enricher"))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """Real time (start now, speed 1), so the daemon's own clock and the simulator's agree."""
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0, latency_ms=60) as s:
        yield s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(sim: Simulator, tmp_path: Path) -> tuple[Path, Path, int]:
    port = free_port()
    data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{port}")
    for source in data["tenants"][0]["sources"]:
        source["interval"] = "2s"
    out = tmp_path / "notifications.jsonl"
    data["sinks"] = [{"name": "file", "type": "jsonl", "path": str(out)}]
    data["delivery"] = {"interval": "0.5s"}
    data["log"] = {"format": "json"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, out, port


def start(config: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / "daemon.log").open("ab")
    return subprocess.Popen([SCRIPT, "run", "--config", str(config)], stdout=log, stderr=log, cwd=tmp_path)


def lines(out: Path) -> list[dict[str, object]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_sigterm_stops_promptly_and_health_works(sim: Simulator, tmp_path: Path) -> None:
    config, _, port = write_config(sim, tmp_path)
    proc = start(config, tmp_path)
    try:
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{port}/readyz") == 200, 60), (
            tmp_path / "daemon.log"
        ).read_text()
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        # readyz: a poll ok (one, or more if the 2-s interval came round again under load); tenant
        # and source are separate labels. The heartbeat readyz reads is committed a moment before
        # the poll is counted, so under load the first scrape may come in between: wait for it.
        ok = r'aadsts_enricher_polls_total\{outcome="ok",source="\w+",tenant="contoso"\} [1-9]'

        def scrape() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20).read().decode()

        assert wait_for(lambda: re.search(ok, scrape()), 30), scrape()
        health = subprocess.run(
            [SCRIPT, "health", "--config", str(config), "--ready"], capture_output=True, text=True
        )
        assert health.returncode == 0, health.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0  # a bound, not a measurement: stop exits within 2 s when idle
    finally:
        if proc.poll() is None:
            proc.kill()
    gone = subprocess.run(
        [SCRIPT, "health", "--url", f"http://127.0.0.1:{port}"], capture_output=True, text=True
    )
    assert gone.returncode == 1
    logged = [
        json.loads(line)
        for line in (tmp_path / "daemon.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert {"started", "stopped"} <= {entry["message"] for entry in logged}


def test_kill_9_mid_cycle_still_notifies_each_failure_exactly_once(sim: Simulator, tmp_path: Path) -> None:
    """Killed twice while polling, restarted each time: every failure is notified, none twice."""
    config, out, _ = write_config(sim, tmp_path)
    for delay in (1.2, 2.5):
        proc = start(config, tmp_path)
        time.sleep(delay)  # 60 ms per request: the first cycles are still running
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    proc = start(config, tmp_path)
    try:
        complete = wait_for(lambda: {str(n["code"]) for n in lines(out)} >= EXPECTED, 90)
        time.sleep(3)  # a few more cycles: nothing new may appear
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    sent = lines(out)
    assert complete, (sent, (tmp_path / "daemon.log").read_text()[-3000:])
    assert [i for i, n in Counter(str(n["id"]) for n in sent).items() if n > 1] == []
    firing = Counter((str(n["code"]), str(n["incident_id"])) for n in sent if n["kind"] == "firing")
    assert all(count == 1 for count in firing.values())
    assert {code for code, _ in firing} >= EXPECTED
    assert len({code for code, _ in firing}) == len(firing)  # one incident per failing item and code
