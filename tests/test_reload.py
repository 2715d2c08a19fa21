"""Reload, as an operator does it: a real daemon process, SIGHUP and ``POST /-/reload``.

A valid new file takes over (seen from outside: the health endpoints move to the new
``health.listen``); a broken one is refused with one log line while the old config keeps running.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.simulator import Simulator, starting_at
from enricher.wiring.demo import demo_config_data
from tests.test_daemon import free_port, http_status, start, wait_for

TOKEN = "reload-test-token-0123456789"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0) as s:
        yield s


def config_data(sim: Simulator, tmp_path: Path, port: int) -> dict[str, Any]:
    data = demo_config_data(sim, tmp_path / "state", listen=f"127.0.0.1:{port}")
    for source in data["tenants"][0]["sources"]:
        source["interval"] = "2s"
    data["sinks"] = [{"name": "file", "type": "jsonl", "path": str(tmp_path / "out.jsonl")}]
    data["log"] = {"format": "json"}
    data["health"]["bearer_token"] = TOKEN
    return data


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def logged(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "daemon.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def messages(tmp_path: Path, message: str) -> list[dict[str, Any]]:
    return [entry for entry in logged(tmp_path) if entry["message"] == message]


def post(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method="POST", data=b"")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def polls_ok(port: int) -> float:
    """The summed ``aadsts_enricher_polls_total{outcome="ok"}`` samples of a scrape."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("aadsts_enricher_polls_total{") and 'outcome="ok"' in line
    )


def ready(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/readyz", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


BROKEN_TZ = [{"name": "night", "timezone": "Europe/Amsterdm", "start": "22:00", "end": "02:00"}]


def test_sighup_and_post_reload(sim: Simulator, tmp_path: Path) -> None:
    first, second, third = free_port(), free_port(), free_port()
    path = tmp_path / "config.yaml"
    data = config_data(sim, tmp_path, first)
    write(path, data)
    proc = start(path, tmp_path)
    try:
        assert wait_for(lambda: ready(first), 60), (tmp_path / "daemon.log").read_text()

        # SIGHUP with a valid new file: the endpoints move to the new port, the process lives on
        # (a few cycles first, so a counter that started again from zero could not have caught up)
        assert wait_for(lambda: polls_ok(first) >= 12, 60)
        before = polls_ok(first)
        write(path, {**data, "health": {**data["health"], "listen": f"127.0.0.1:{second}"}})
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{second}/healthz") == 200, 30), (
            tmp_path / "daemon.log"
        ).read_text()[-3000:]
        assert proc.poll() is None
        assert http_status(f"http://127.0.0.1:{first}/healthz") == 0  # nobody listens there any more
        assert wait_for(lambda: messages(tmp_path, "reloaded"), 30)  # logged just after the server starts
        assert polls_ok(second) >= before  # the counters carried over

        # SIGHUP with a broken file: one log line, the old config keeps running (and polling)
        write(path, {**data, "maintenance": BROKEN_TZ})
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: messages(tmp_path, "reload refused, the running config stays"), 30)
        refused = messages(tmp_path, "reload refused, the running config stays")
        assert len(refused) == 1 and "maintenance[0].timezone: unknown time zone" in refused[0]["reason"]
        assert proc.poll() is None and http_status(f"http://127.0.0.1:{second}/healthz") == 200
        polls = len(messages(tmp_path, "polled"))
        assert wait_for(lambda: len(messages(tmp_path, "polled")) > polls, 30)

        # POST /-/reload: behind the health auth; a broken file is refused in the answer
        url = f"http://127.0.0.1:{second}/-/reload"
        assert post(url, None)[0] == 401
        assert post(url, "wrong-token")[0] == 401
        status, body = post(url, TOKEN)
        assert status == 400 and "maintenance[0].timezone" in body["error"]
        assert len(messages(tmp_path, "reloaded")) == 1

        write(path, {**data, "health": {**data["health"], "listen": f"127.0.0.1:{third}"}})
        assert post(url, TOKEN) == (200, {"status": "reloading"})
        assert wait_for(lambda: ready(third), 60)
        assert wait_for(lambda: len(messages(tmp_path, "reloaded")) == 2, 30)
        assert TOKEN not in (tmp_path / "daemon.log").read_text()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
