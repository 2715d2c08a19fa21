"""A port or a state directory that is already taken: one line naming it and exit 2, never a traceback,
and never damage to the process that holds it."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from connectors.simulator import Simulator
from enricher.cli import main
from enricher.wiring.demo import demo_config_data

SCRIPT = str(Path(sys.executable).with_name("aadsts-enricher"))


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_simulate_on_a_taken_port(taken: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--port", str(taken), "--state-dir", str(tmp_path / "sim")])
    line = one_line(capsys.readouterr().err)
    assert code == 2
    assert line == (
        f"aadsts-enricher: simulate: port {taken} on 127.0.0.1 is already in use (--port 0 picks a free port)"
    )


def test_demo_listen_on_a_taken_port(taken: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--cycles", "1", "--listen", f"127.0.0.1:{taken}"])
    assert code == 2
    assert one_line(capsys.readouterr().err) == (
        f"aadsts-enricher: --listen: port {taken} on 127.0.0.1 is already in use (another aadsts-enricher?)"
    )


def test_run_with_health_listen_on_a_taken_port(taken: int, tmp_path: Path) -> None:
    with Simulator("demo", speed=0) as sim:
        data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{taken}")
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        result = subprocess.run(
            [SCRIPT, "run", "--config", str(config)], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"aadsts-enricher: health.listen: port {taken} on 127.0.0.1 is already in use (another aadsts-enricher?)"
    )


def test_a_second_simulate_leaves_the_first_ones_ca_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "sim"
    first = subprocess.Popen(
        [SCRIPT, "simulate", "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert first.stdout is not None
        lines = []
        for line in first.stdout:  # describe() prints the CA line once it serves
            lines.append(line)
            if "CA certificate" in line:
                break
        base = next(line.split()[-1] for line in lines if line.strip().startswith("authority"))
        ca = state / "simulator-ca.pem"
        before = hashlib.sha256(ca.read_bytes()).hexdigest()

        code = main(["simulate", "--port", "0", "--state-dir", str(state)])
        line = one_line(capsys.readouterr().err)
        assert code == 2
        assert line == (
            f"aadsts-enricher: simulate: another simulator (pid {first.pid}) is serving from {state} "
            "(stop it, or give it its own --state-dir)"
        )
        assert hashlib.sha256(ca.read_bytes()).hexdigest() == before
        # clients of the first still pass its certificate check
        url = f"{base}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        assert requests.get(url, verify=str(ca), timeout=10).status_code == 200
    finally:
        first.terminate()
        first.wait(timeout=10)
