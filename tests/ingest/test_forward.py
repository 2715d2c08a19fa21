"""What happens beside enrichment on the ingest endpoint, over real HTTP on loopback.

``ingest.other: forward`` posts the alerts without a code, unchanged, to a webhook receiver;
``ingest.fetch_search_results`` reads a log search alert's rows from the simulator's Log
Analytics API through the tenant's credential; ``simulate --post`` posts the reference bodies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import connectors.simulator
from connectors.simulator import Simulator
from connectors.simulator.pushed import payloads
from enricher import config as cfg
from enricher.cli import main
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data
from tests.fakes import MemorySink
from tests.sinks.servers import Receiver, Reply

TOKEN = "ingest-t0ken-value"
SECRET = "whsec_" + base64.b64encode(b"forwarding-key-0123456789").decode()


PUSHED = Path(connectors.simulator.__file__).parent / "pushed"


def body_of(name: str) -> bytes:
    return (PUSHED / f"{name}.json").read_bytes()


def doc_of(name: str) -> Any:
    return json.loads(body_of(name))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


class Running:
    """A Service with the ingest endpoint; ``hook`` (a webhook sink) is only a forward target."""

    def __init__(self, sim: Simulator, tmp_path: Path, hook_url: str = "", **ingest: Any) -> None:
        data = demo_config_data(sim, tmp_path)
        data["health"] = {"listen": "127.0.0.1:0"}
        data["ingest"] = {"enabled": True, "token": TOKEN, **ingest}
        data["incidents"] = {"group_wait": "0s"}
        data["default_sinks"] = ["console"]
        if hook_url:
            data["sinks"].append({"name": "hook", "type": "webhook", "url": hook_url, "secret": SECRET})
        self.sink = MemorySink("console")
        self.config = cfg.Config.model_validate(data)
        self.svc = Service(
            self.config, tmp_path, clock=sim.clock.now, sinks={"console": self.sink}, store=MemoryStore()
        )
        self.server = self.svc.health_server().start()
        self.url = self.server.url + "/api/v1/ingest/"

    def post(self, fmt: str, body: bytes) -> requests.Response:
        return requests.post(self.url + fmt, data=body, params={"token": TOKEN}, timeout=30)

    def sent(self) -> list[tuple[str, str, str]]:
        self.svc.flush()
        self.svc.deliverer.deliver_due()
        return self.sink.kinds()

    def close(self) -> None:
        self.server.stop()
        self.svc.close()


@pytest.fixture
def forwarding(sim: Simulator, tmp_path: Path, receiver: Receiver) -> Iterator[Running]:
    r = Running(sim, tmp_path, receiver.url + "/hook", other="forward", forward_to=["hook"])
    yield r
    r.close()


class TestForward:
    def test_the_other_alert_goes_on_in_its_envelope(self, forwarding: Running, receiver: Receiver) -> None:
        """Alertmanager body with one AADSTS alert and one other: we enrich one, forward the other."""
        sent = doc_of("alertmanager-v4")
        answer = forwarding.post("alertmanager", body_of("alertmanager-v4"))
        assert answer.json() == {"received": 2, "aadsts": 1, "other": 1, "forwarded": 1}
        [got] = receiver.requests
        assert got.path == "/hook" and got.headers["aadsts-enricher-format"] == "alertmanager"
        assert got.json() == {**sent, "alerts": [sent["alerts"][1]]}
        assert [code for _, code, _ in forwarding.sent()] == ["53003"]

    def test_a_body_with_nothing_of_ours_is_forwarded_byte_for_byte(
        self, forwarding: Running, receiver: Receiver
    ) -> None:
        body = body_of("azure-monitor-metric-resolved")
        assert forwarding.post("azure-monitor", body).json()["forwarded"] == 1
        assert receiver.requests[0].body == body

    def test_an_alert_of_ours_is_not_forwarded(self, forwarding: Running, receiver: Receiver) -> None:
        answer = forwarding.post("grafana", body_of("grafana")).json()
        assert answer["aadsts"] == 1 and answer["forwarded"] == 0
        assert receiver.requests == []

    def test_signed_the_standard_webhooks_way(self, forwarding: Running, receiver: Receiver) -> None:
        forwarding.post("azure-monitor", body_of("azure-monitor-metric-resolved"))
        got = receiver.requests[0]
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert got.headers["webhook-signature"] == f"v1,{expected}"
        assert got.headers["webhook-id"] == "fwd_" + hashlib.sha256(got.body).hexdigest()[:32]

    def test_a_destination_asking_to_retry_makes_the_sender_retry(
        self, forwarding: Running, receiver: Receiver
    ) -> None:
        """503 from the destination: 503 to the sender; its re-send is forwarded and enriches nothing twice."""
        receiver.answer(Reply(503, headers={"Retry-After": "7"}))
        first = forwarding.post("alertmanager", body_of("alertmanager-v4"))
        assert first.status_code == 503 and first.headers["Retry-After"] == "7"
        again = forwarding.post("alertmanager", body_of("alertmanager-v4"))
        assert again.status_code == 202
        assert len(receiver.requests) == 2 and receiver.requests[0].body == receiver.requests[1].body
        assert len(forwarding.sent()) == 1

    def test_a_permanent_refusal_is_not_retried(self, forwarding: Running, receiver: Receiver) -> None:
        receiver.answer(Reply(400, body=b"no"))
        answer = forwarding.post("azure-monitor", body_of("azure-monitor-metric-resolved"))
        assert answer.status_code == 202 and answer.json()["forwarded"] == 1

    def test_drop_is_the_default_and_forwards_nothing(
        self, sim: Simulator, tmp_path: Path, receiver: Receiver
    ) -> None:
        r = Running(sim, tmp_path, receiver.url + "/hook")
        try:
            answer = r.post("alertmanager", body_of("alertmanager-v4")).json()
            assert answer == {"received": 2, "aadsts": 1, "other": 1}
            assert receiver.requests == []
        finally:
            r.close()


class TestForwardConfig:
    @pytest.mark.parametrize(
        ("ingest", "message"),
        [
            ({"other": "forward"}, r"ingest\.forward_to: 'other: forward' needs"),
            ({"other": "forward", "forward_to": ["nope"]}, r"ingest\.forward_to\[0\]: no sink named 'nope'"),
            ({"other": "forward", "forward_to": ["console"]}, r"'console' is a console sink"),
        ],
    )
    def test_refused(self, sim: Simulator, tmp_path: Path, ingest: dict[str, Any], message: str) -> None:
        data = demo_config_data(sim, tmp_path)
        data["ingest"] = {"enabled": True, "token": TOKEN, **ingest}
        with pytest.raises(ValueError, match=message):
            cfg.Config.model_validate(data)


def _search_alert(link: str) -> bytes:
    """The log search alert with a summary in its dimensions (no code) and ``link`` as its results."""
    doc = doc_of("azure-monitor-log-v2")
    condition = doc["data"]["alertContext"]["condition"]["allOf"][0]
    condition["dimensions"] = [{"name": "Count", "value": "2"}]
    condition["linkToSearchResultsAPI"] = condition["linkToFilteredSearchResultsAPI"] = link
    return json.dumps(doc).encode()


ROWS = [
    {
        "name": "PrimaryResult",
        "columns": [
            {"name": n, "type": "string"} for n in ("_ResourceId", "PipelineName", "RunId", "ErrorMessage")
        ],
        "rows": [
            [
                "/subscriptions/5d1e4b0a-0000-4c3e-9a8b-000000000001/resourcegroups/rg-data/providers/"
                "microsoft.datafactory/factories/adf-ingest",
                pipeline,
                run,
                f"Failed to get access token. Error Message: {code}: see the app registration.",
            ]
            for pipeline, run, code in (
                ("LoadFinance", "11111111-0000-4000-8000-000000000001", "AADSTS7000222"),
                ("LoadSales", "11111111-0000-4000-8000-000000000002", "AADSTS700016"),
            )
        ],
    }
]


class TestSearchResults:
    def test_fetched_rows_are_read_one_run_each(self, sim: Simulator, tmp_path: Path) -> None:
        link = sim.add_search_results("00000000-0000-0000-0000-00000000cafe", ROWS)
        r = Running(sim, tmp_path, fetch_search_results=True)
        try:
            answer = r.post("azure-monitor", _search_alert(link)).json()
            assert answer == {"received": 1, "aadsts": 2, "other": 0}
            assert sorted(r.sent()) == [
                ("firing", "700016", "LoadSales"),
                ("firing", "7000222", "LoadFinance"),
            ]
            assert sim.stats.api("log_analytics") == 1
        finally:
            r.close()

    def test_not_fetched_unless_configured(self, sim: Simulator, tmp_path: Path) -> None:
        link = sim.add_search_results("00000000-0000-0000-0000-00000000cafe", ROWS)
        r = Running(sim, tmp_path)
        try:
            assert r.post("azure-monitor", _search_alert(link)).json()["aadsts"] == 0
            assert sim.stats.api("log_analytics") == 0
        finally:
            r.close()

    def test_a_link_to_another_host_is_never_followed(self, sim: Simulator, tmp_path: Path) -> None:
        """The token goes only to the tenant's Log Analytics root: a pushed body cannot redirect it."""
        sim.add_search_results("00000000-0000-0000-0000-00000000cafe", ROWS)
        r = Running(sim, tmp_path, fetch_search_results=True)
        try:
            foreign = r.server.url + "/loganalytics/v1/workspaces/00000000-0000-0000-0000-00000000cafe/query"
            answer = r.post("azure-monitor", _search_alert(foreign))
            assert answer.status_code == 202 and answer.json()["aadsts"] == 0
        finally:
            r.close()


def test_simulate_post_sends_each_reference_payload(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = Running(sim, tmp_path)
    try:
        code = main(["simulate", "--post", "azure-monitor", f"{r.url}azure-monitor?token={TOKEN}"])
        lines = capsys.readouterr().out.splitlines()
        assert code == 0
        assert [line.split(":")[0] for line in lines] == [name for name, _ in payloads("azure-monitor")]
        assert all(": HTTP 202 " in line for line in lines)
        assert main(["simulate", "--post", "grafana", f"{r.url}grafana?token=wrong"]) == 1
    finally:
        r.close()
