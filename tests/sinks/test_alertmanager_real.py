"""The alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager, 0.25).

``make test`` installs the package when it runs as root with apt-get (``make alertmanager``);
without the binary these tests skip and say so. One Alertmanager per module, clustering off,
storage in a temp dir, on a free loopback port; what we check is what its own API answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from enricher.sinks.alertmanager import AlertmanagerSink
from tests.sinks.conftest import firing, resolved, sink_config
from tests.sinks.servers import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="prometheus-alertmanager is not installed (make test installs it as root: make alertmanager)",
)

CONFIG = """\
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 1h
receivers:
  - name: blackhole
"""


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("alertmanager")
    (folder / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "log.txt").open("w"),
    )
    try:
        _wait_ready(url, process, folder / "log.txt")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until /-/ready answers 200 (a start-up wait, not an assertion about speed)."""
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"alertmanager exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"alertmanager did not become ready: {log.read_text()[-2000:]}")


def get(url: str, path: str) -> Any:
    response = requests.get(url + path, timeout=5)
    response.raise_for_status()
    return response.json()


def ours(alerts: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"].get("tenant") == tenant]


def test_alerts_arrive_group_and_resolve(alertmanager: str) -> None:
    now = datetime.now(UTC)
    config = sink_config("alertmanager", "", urls=[alertmanager], external_url="https://enricher.example")
    sink = AlertmanagerSink(config, clock=lambda: now)
    base = dict(tenant="real-am", first_seen=now - timedelta(minutes=3))
    sales = firing(**base)
    budget = firing(
        **base,
        id="firing-2",
        incident_id="incident-2",
        items=(replace(sales.items[0], item_name="Budget"),),
        labels={**sales.labels, "item": "Budget"},
    )
    other = firing(**base, id="firing-3", incident_id="incident-3", code="7000222", severity="high")
    for n in (sales, budget, other):
        assert sink.send(n).ok, n.id

    alerts = ours(get(alertmanager, "/api/v2/alerts"), "real-am")
    assert sorted(a["labels"]["item"] for a in alerts) == ["Budget", "Sales", "Sales"]
    assert {a["status"]["state"] for a in alerts} == {"active"}
    sales_alert = next(a for a in alerts if a["labels"]["item"] == "Sales" and a["labels"]["code"] == "53003")
    assert sales_alert["annotations"]["runbook_url"] == "https://enricher.example/codes/53003"
    assert sales_alert["generatorURL"].endswith(f"/incidents/{sales.incident_id}")

    groups = {
        g["labels"]["alertname"]: sorted(a["labels"]["item"] for a in ours(g["alerts"], "real-am"))
        for g in get(alertmanager, "/api/v2/alerts/groups")
    }
    assert groups["AADSTS53003"] == ["Budget", "Sales"]  # grouped by alertname, as routed
    assert groups["AADSTS7000222"] == ["Sales"]

    # the same labels posted again (the re-post) stay one alert
    assert sink.resend(now + timedelta(seconds=60)) is not None
    assert len(ours(get(alertmanager, "/api/v2/alerts"), "real-am")) == 3

    # resolved: endsAt is now, and Alertmanager no longer lists the alert as active
    done = replace(resolved(), tenant="real-am", first_seen=base["first_seen"])
    assert sink.send(done).ok
    sink.close()
    left = ours(get(alertmanager, "/api/v2/alerts?active=true"), "real-am")
    assert sorted((a["labels"]["code"], a["labels"]["item"]) for a in left) == [
        ("53003", "Budget"),
        ("7000222", "Sales"),
    ]


def test_alertmanager_refuses_what_it_cannot_take(alertmanager: str) -> None:
    """An empty label set is a 400 from Alertmanager: a permanent failure for us, detail kept."""
    config = sink_config("alertmanager", "", urls=[alertmanager])
    sink = AlertmanagerSink(config)
    body = json.dumps([{"labels": {}}]).encode()
    result = sink.http.send(sink.urls[0], body, {"Content-Type": "application/json"})
    sink.close()
    assert not result.ok and not result.retryable and result.status == 400
