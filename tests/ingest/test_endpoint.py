"""``/api/v1/ingest/{format}`` over real HTTP on loopback, into a Service polling the simulator.

Each reference payload is posted and the notifications it causes are checked; an ADF failure the
simulator's factory reports is pushed too, and stays one incident with the polled one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import connectors.simulator
from connectors.simulator import Simulator
from enricher import config as cfg
from enricher.health import HealthServer
from enricher.ingest.endpoint import Bucket
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data
from tests.fakes import MemorySink

PAYLOADS = Path(connectors.simulator.__file__).parent / "pushed"
TOKEN = "ingest-t0ken-value"
BEARER = "health-bearer-value"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


class Running:
    def __init__(self, sim: Simulator, tmp_path: Path, **ingest: Any) -> None:
        data = demo_config_data(sim, tmp_path)
        data["health"] = {"listen": "127.0.0.1:0", "bearer_token": BEARER}
        data["ingest"] = {"enabled": True, "token": TOKEN, **ingest}
        data["incidents"] = {"group_wait": "0s"}
        self.sink = MemorySink("console")
        config = cfg.Config.model_validate(data)
        self.svc = Service(
            config, tmp_path, clock=sim.clock.now, sinks={"console": self.sink}, store=MemoryStore()
        )
        self.server: HealthServer = self.svc.health_server().start()
        self.url = self.server.url + "/api/v1/ingest/"

    def post(self, fmt: str, body: Any, *, token: str | None = TOKEN, **kw: Any) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        params = {"token": token} if token else None
        return requests.post(self.url + fmt, data=data, params=params, timeout=10, **kw)

    def flush(self) -> list[tuple[str, str, str]]:
        self.svc.flush()
        self.svc.deliverer.deliver_due()
        return self.sink.kinds()

    def close(self) -> None:
        self.server.stop()
        self.svc.close()


@pytest.fixture
def running(sim: Simulator, tmp_path: Path) -> Iterator[Running]:
    r = Running(sim, tmp_path)
    yield r
    r.close()


class TestPayloads:
    def test_alertmanager_one_aadsts_alert_one_dropped(self, running: Running) -> None:
        answer = running.post("alertmanager", payload("alertmanager-v4"))
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"received": 2, "aadsts": 1, "other": 1}
        [(kind, code, item)] = running.flush()
        assert (kind, code, item) == ("firing", "53003", "Sales Model")
        n = running.sink.sent[0]
        assert n.source == "powerbi" and n.labels["workspace"] == "Finance"
        assert n.correlation_id == "6e5d4c3b-0000-4a2b-8c1d-0e9f8a7b6c5d"
        metrics = running.svc.metrics.render()
        assert 'aadsts_enricher_ingested_total{format="alertmanager",outcome="other"} 1.0' in metrics
        assert 'aadsts_enricher_ingested_total{format="alertmanager",outcome="aadsts"} 1.0' in metrics

    def test_alertmanager_resolved_resolves(self, running: Running) -> None:
        body = payload("alertmanager-v4")
        running.post("alertmanager", body)
        running.flush()
        body["alerts"][0].update(status="resolved", endsAt="2026-12-05T18:40:00Z")
        assert running.post("alertmanager", body).json()["aadsts"] == 1
        assert [k for k, _, _ in running.flush()] == ["firing", "resolved"]

    def test_the_same_alert_again_is_not_a_new_message(self, running: Running) -> None:
        """Alertmanager re-sends a group every repeat_interval: same fingerprint, same start."""
        running.post("alertmanager", payload("alertmanager-v4"))
        running.post("alertmanager", payload("alertmanager-v4"))
        assert len(running.flush()) == 1

    def test_grafana(self, running: Running) -> None:
        assert running.post("grafana", payload("grafana")).json()["aadsts"] == 1
        [(kind, code, item)] = running.flush()
        assert (kind, code, item) == ("firing", "700082", "NightlyLoad")
        assert running.sink.sent[0].source == "synapse"

    def test_azure_monitor_dimensions_and_search_results(self, running: Running) -> None:
        assert running.post("azure-monitor", payload("azure-monitor-log-v2")).json()["aadsts"] == 1
        results = running.post("azure-monitor", payload("azure-monitor-log-results")).json()
        assert results == {"received": 2, "aadsts": 1, "other": 1}
        sent = sorted(running.flush())
        assert sent == [("firing", "700016", "LoadFinance"), ("firing", "7000215", "CopyCrmToLake")]
        assert {n.source for n in running.sink.sent} == {"adf"}
        assert {n.item.container_name for n in running.sink.sent} == {"adf-ingest"}

    def test_metric_alert_without_a_code_is_counted_and_dropped(self, running: Running) -> None:
        answer = running.post("azure-monitor", payload("azure-monitor-metric-resolved"))
        assert answer.json() == {"received": 1, "aadsts": 0, "other": 1}
        assert running.flush() == []


def test_pushed_and_polled_failure_is_one_incident(running: Running) -> None:
    """The simulator's ADF secret failure, polled, then pushed by a log search alert naming the
    same factory and pipeline: no second incident, no second message."""
    running.svc.cycle(wait=False)
    polled = next(n for n in running.sink.sent if n.source == "adf" and n.code == "7000222")
    sub, rg, factory = polled.item.container_id.split("/")
    body = payload("azure-monitor-log-v2")
    dims = body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"]
    dims[0]["value"] = (
        f"/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.datafactory/factories/{factory}"
    )
    dims[1]["value"] = polled.item.item_name
    dims[2]["value"] = polled.excerpt
    before = len(running.sink.sent)
    assert running.post("azure-monitor", body).json()["aadsts"] == 1
    assert running.flush()[before:] == []
    incidents = running.svc.store.open_counts()
    # the credential forecast's warnings are not incidents of the book (tests/test_credential_expiry.py)
    told = {n.incident_id for n in running.sink.sent if not n.incident_id.startswith("credential:")}
    assert sum(incidents.values()) == len(told)


class TestGuards:
    def test_no_credential_is_401_and_the_body_is_not_read(self, running: Running) -> None:
        assert running.post("alertmanager", payload("alertmanager-v4"), token=None).status_code == 401
        assert running.post("alertmanager", payload("alertmanager-v4"), token="wrong").status_code == 401
        assert running.flush() == []

    def test_health_bearer_works_too(self, running: Running) -> None:
        headers = {"Authorization": f"Bearer {BEARER}"}
        answer = running.post("grafana", payload("grafana"), token=None, headers=headers)
        assert answer.status_code == 202

    def test_too_big_is_413(self, running: Running) -> None:
        answer = running.post("grafana", b"{" + b" " * 2_000_000 + b"}")
        assert answer.status_code == 413

    @pytest.mark.parametrize(
        "body", [b"not json", b"\xff\xfe", b'{"alerts": 3}', b"[]", b"[" * 100_000 + b"]" * 100_000, b"NaN"]
    )
    def test_unreadable_is_400(self, running: Running, body: bytes) -> None:
        answer = running.post("alertmanager", body)
        assert answer.status_code == 400 and answer.json()["error"]

    def test_unknown_format_is_404(self, running: Running) -> None:
        assert running.post("nagios", {}).status_code == 404

    def test_over_the_rate_is_503_with_retry_after(self, sim: Simulator, tmp_path: Path) -> None:
        r = Running(sim, tmp_path, rate_per_second=1, burst=2)
        try:
            codes = [r.post("grafana", payload("grafana")).status_code for _ in range(3)]
            assert codes[:2] == [202, 202] and codes[2] == 503
            assert int(r.post("grafana", payload("grafana")).headers["Retry-After"]) >= 1
        finally:
            r.close()


def test_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = Bucket(2.0, 1, clock=lambda: now[0])
    assert bucket.take() == 0 and bucket.take() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.take() == 0


def test_ingest_needs_a_credential(sim: Simulator, tmp_path: Path) -> None:
    data = demo_config_data(sim, tmp_path)
    data["ingest"] = {"enabled": True}
    with pytest.raises(ValueError, match=r"ingest\.enabled: needs"):
        cfg.Config.model_validate(data)
