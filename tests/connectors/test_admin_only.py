"""An admin-only tenant (the app is a member of no workspace) and names that need escaping, over
HTTPS against the ``admin_only`` simulator scenario."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from connectors.auth import CredentialSpec, TokenProvider, make_credential
from connectors.base import Identity
from connectors.http import AzureHttp, RetryPolicy
from connectors.paths import seg
from connectors.powerbi import PowerBIConnector, PowerBIOptions
from connectors.records import RunStatus, Source
from connectors.simulator import Simulator, starting_at
from connectors.synapse import SynapseConnector, SynapseOptions, SynapseWorkspace
from enricher.cli import main
from enricher.core.detect import detect
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data
from tests.connectors.conftest import endpoints
from tests.fakes import MemorySink

TENANT = "5b8d3f21-6c4e-4a7f-8b92-3d4e5f6a7b81"
APP = "e54b2d6f-8c3a-4f9b-8d72-1a4c6b8e0f32"
SECRET = "sim-admin-only-secret-Vb3~nR8q"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="admin_only", port=0, speed=0) as s:
        yield s


def http(sim: Simulator) -> AzureHttp:
    spec = CredentialSpec(
        "client_secret", TENANT, APP, SECRET, authority=sim.base_url, verify=str(sim.ca_path)
    )
    return AzureHttp(
        TokenProvider(make_credential(spec)), verify=str(sim.ca_path), policy=RetryPolicy(base=0.01)
    )


def who() -> Identity:
    return Identity("northwind", TENANT, APP)


def refreshables_failing(sim: Simulator, client: AzureHttp) -> set[str]:
    """What Power BI itself says failed last: the names a monitor must alert on."""
    url = f"{sim.endpoints['powerbi']}/admin/capacities/refreshables"
    body = client.get("powerbi", url, "https://analysis.windows.net/powerbi/api/.default", {"$top": 100})
    return {r["name"] for r in body["value"] if (r.get("lastRefresh") or {}).get("status") == "Failed"}


class TestAdminOnlyPowerBI:
    def test_every_failure_refreshables_shows_is_a_record_in_the_first_poll(self, sim: Simulator) -> None:
        client = http(sim)
        expected = refreshables_failing(sim, client)
        assert expected == {"Board Pack", "Sales Model", "HR Headcount"}
        connector = PowerBIConnector(client, endpoints(sim), who(), PowerBIOptions(mode="admin"))
        poll = connector.poll(sim.clock.now(), {})
        assert poll.errors == [] and poll.auth_error is None
        failed = {
            r.item_name: r
            for r in poll.records
            if r.status is RunStatus.FAILED and r.source is Source.POWERBI
        }
        assert set(failed) == expected
        assert {detect(r.error_text).primary for r in failed.values()} == {"53003", "700082", "50076"}
        assert failed["Board Pack"].container_name == "Finance / Board #1"

    def test_refused_history_is_reported_once_per_item_not_every_cycle(self, sim: Simulator) -> None:
        connector = PowerBIConnector(http(sim), endpoints(sim), who(), PowerBIOptions(mode="admin"))
        first = connector.poll(sim.clock.now(), {})
        kinds = {(n.kind, n.item) for n in first.notices}
        assert ("history_refused", "dataset Finance / Board #1/Board Pack") in kinds
        assert ("transactions_refused", "dataflow Finance / Board #1/Orders Dataflow") in kinds
        assert all("HTTP 404" in n.message for n in first.notices)
        second = connector.poll(sim.clock.now(), first.cursor)
        assert second.notices == [] and second.errors == []

    def test_an_items_identity_includes_its_workspace(self, sim: Simulator) -> None:
        """Two datasets share an id in two workspaces: two items, each in its own workspace."""
        connector = PowerBIConnector(http(sim), endpoints(sim), who(), PowerBIOptions(mode="admin"))
        poll = connector.poll(sim.clock.now(), {})
        same = {r.item_name: r for r in poll.records if r.item_id == "0d1e2f3a-4b5c-4d6e-8f70-112233445566"}
        assert set(same) == {"Ops Model", "Ops Model Copy"}
        assert same["Ops Model"].container_name == "Finance / Board #1"
        assert same["Ops Model Copy"].container_name == "Sales 100%?"
        assert same["Ops Model"].item_key != same["Ops Model Copy"].item_key

    def test_dataflows_false_lists_no_dataflows(self, sim: Simulator) -> None:
        connector = PowerBIConnector(
            http(sim), endpoints(sim), who(), PowerBIOptions(mode="admin", dataflows=False)
        )
        poll = connector.poll(sim.clock.now(), {})
        assert not [r for r in poll.records if r.source is Source.POWERBI_DATAFLOW]
        assert not [n for n in poll.notices if "dataflow" in n.item]


class TestEscapedNames:
    @pytest.mark.parametrize(
        ("name", "segment"),
        [
            ("load/daily", "load%2Fdaily"),
            ("run #1", "run%20%231"),
            ("50%", "50%25"),
            ("what?", "what%3F"),
            ("a&b=c", "a%26b%3Dc"),
            ("plain-name_1.0", "plain-name_1.0"),
        ],
    )
    def test_seg_makes_one_path_segment(self, name: str, segment: str) -> None:
        assert seg(name) == segment

    def test_synapse_pipeline_with_slash_hash_percent_question_mark(self, sim: Simulator) -> None:
        """The activity query puts the pipeline name in the path: unescaped it would be a 404."""
        options = SynapseOptions(
            (
                SynapseWorkspace(
                    "syn-northwind", sim.endpoints["synapse"].replace("{workspace}", "syn-northwind")
                ),
            )
        )
        poll = SynapseConnector(http(sim), endpoints(sim), who(), options).poll(sim.clock.now(), {})
        assert poll.errors == []
        odd = [
            r for r in poll.records if r.item_name == "load/daily #1 50%?" and r.status is RunStatus.FAILED
        ]
        assert odd and detect(odd[0].error_text).primary == "7000222"


def write_config(sim: Simulator, tmp_path: Path, **source_extra: object) -> Path:
    data = demo_config_data(sim, tmp_path)
    data["sinks"] = [{"name": "out", "type": "jsonl", "path": str(tmp_path / "out.jsonl")}]
    data["tenants"][0]["sources"] = [
        {"type": "powerbi", "mode": "admin"},
        {"type": "synapse", "workspaces": [{"name": "syn-northwind"}], "lookback": "6h"},
        *([source_extra] if source_extra else []),
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def live() -> Iterator[Simulator]:
    """The scenario near the real time, so ``once`` (which uses the real clock) and the simulator
    agree: at the last hh:45 before now, when no refresh of the scenario is still running."""
    start = (datetime.now(UTC) - timedelta(minutes=45)).replace(minute=45, second=0, microsecond=0)
    with Simulator(scenario=starting_at("admin_only", start), port=0, speed=0) as s:
        yield s


class TestOnce:
    def test_once_alerts_every_failure_and_exits_0(
        self, live: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The issue's "done when": every failure refreshables shows is an alert in the first cycle."""
        path = write_config(live, tmp_path)
        assert main(["once", "--config", str(path)]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^contoso/powerbi +ok ", out, re.M)
        assert "    note: dataset Finance / Board #1/Board Pack: powerbi: HTTP 404" in out
        expected = refreshables_failing(live, http(live))
        sent = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        items = {(i["item_name"], n["code"]) for n in sent for i in n["items"]}
        assert expected == {"Board Pack", "Sales Model", "HR Headcount"}
        assert {("Board Pack", "53003"), ("Sales Model", "700082"), ("HR Headcount", "50076")} <= items
        assert ("load/daily #1 50%?", "7000222") in items

    def test_two_sources_of_one_type_keep_their_own_cursor_and_heartbeat(
        self, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = write_config(sim, tmp_path, type="powerbi", mode="workspace", name="pbi-members")
        from enricher.config_load import load_config

        config = load_config(path)
        store = MemoryStore()
        svc = Service(config, tmp_path, clock=sim.clock.now, sinks={"out": MemorySink("out")}, store=store)
        report, _ = svc.cycle(wait=False)
        assert [p.source for p in report.polls] == [
            "contoso/powerbi",
            "contoso/synapse",
            "contoso/pbi-members",
        ]
        assert store.last_beat("poll:contoso/powerbi") and store.last_beat("poll:contoso/pbi-members")
        problems = svc.metrics.series("aadsts_enricher_source_problems_total")
        labels = {dict(k)["source"] for k in problems}
        assert labels == {"powerbi"} and all(dict(k)["tenant"] == "contoso" for k in problems)
        counted = sum(problems.values())
        logged = [r for r in caplog.records if r.getMessage() == "source problem"]
        assert counted >= 4 and len(logged) == counted  # three refused histories, one dataflow
        svc.cycle(wait=False)
        assert sum(svc.metrics.series("aadsts_enricher_source_problems_total").values()) == counted
        assert len([r for r in caplog.records if r.getMessage() == "source problem"]) == counted
        svc.close()
