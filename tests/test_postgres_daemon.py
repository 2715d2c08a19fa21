"""The daemon on a PostgreSQL store, as users run it: real processes, the simulator, a real server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.simulator import Simulator, starting_at
from enricher.wiring.demo import demo_config_data
from tests.test_daemon import EXPECTED, SCRIPT, free_port, lines


@pytest.fixture
def sim() -> Iterator[Simulator]:
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0) as s:
        yield s


def config_for(sim: Simulator, tmp_path: Path, url: str) -> tuple[Path, Path]:
    data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{free_port()}")
    out = tmp_path / "notifications.jsonl"
    data["sinks"] = [{"name": "file", "type": "jsonl", "path": str(out)}]
    data["state"] = {"url": url}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, out


def once(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "once", "--config", str(config)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )


def test_once_keeps_its_state_in_postgres(sim: Simulator, tmp_path: Path, postgres_url: str) -> None:
    """Every failure notified by the first run; the second finds them known and sends nothing."""
    config, out = config_for(sim, tmp_path, postgres_url)
    first = once(config, tmp_path)
    assert {str(n["code"]) for n in lines(out)} >= EXPECTED, first.stdout + first.stderr
    sent = len(lines(out))
    second = once(config, tmp_path)
    assert "0 new notifications" in second.stdout, second.stdout + second.stderr
    assert len(lines(out)) == sent
    assert not (tmp_path / "state" / "state.db").exists()  # nothing went to SQLite


def test_an_unreachable_database_is_one_line_and_exit_1(sim: Simulator, tmp_path: Path) -> None:
    config, out = config_for(sim, tmp_path, f"postgresql://watcher:pw-3xample@127.0.0.1:{free_port()}/state")
    done = once(config, tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("aadsts-enricher: cannot connect to state database 127.0.0.1:")
    assert "pw-3xample" not in done.stderr + done.stdout and not out.exists()
