"""Each connector end to end against the simulator over HTTPS with real azure-identity."""

from __future__ import annotations

from datetime import timedelta

from connectors.adf import ADFConnector, ADFOptions
from connectors.base import NameFilter
from connectors.fabric import FabricConnector, FabricOptions
from connectors.graph import GraphClient
from connectors.powerbi import PowerBIConnector, PowerBIOptions
from connectors.records import RunStatus, Source
from connectors.simulator import FaultRule, Simulator
from connectors.synapse import SynapseConnector, SynapseOptions, SynapseWorkspace
from connectors.timefmt import parse_time
from enricher.core.detect import detect
from tests.connectors.conftest import (
    DAEMON,
    READER,
    READER_SECRET,
    SECRET,
    endpoints,
    http_for,
    identity,
    spec,
)


def failed(records):  # type: ignore[no-untyped-def]
    return [r for r in records if r.status is RunStatus.FAILED]


class TestPowerBI:
    def test_admin_mode(self, sim: Simulator) -> None:
        http = http_for(sim)
        c = PowerBIConnector(http, endpoints(sim), identity(), PowerBIOptions(mode="admin"))
        poll = c.poll(sim.clock.now(), {})
        assert poll.errors == [] and poll.auth_error is None
        board = [r for r in failed(poll.records) if r.item_name == "Finance Board Pack"]
        assert board and detect(board[0].error_text).primary == "53003"
        assert board[0].extra["gateway"] == "true" and board[0].extra["refresh_type"] == "Scheduled"
        assert board[0].extra["schedule_enabled"] == "false"  # Power BI gave up after 4 failures
        assert {r.source for r in poll.records} >= {Source.POWERBI, Source.POWERBI_DATAFLOW, Source.SELF}
        again = c.poll(sim.clock.now(), poll.cursor)
        # nothing changed: the second poll reads the refreshables page and no history
        assert [r for r in again.records if r.source is Source.POWERBI] == []

    def test_a_rewound_poll_is_read_again_in_full(self, sim: Simulator) -> None:
        """Its transaction rolled back, the poll's refreshes count as unseen: the next poll returns
        them with their errors (not only the ones that changed since)."""
        c = PowerBIConnector(http_for(sim), endpoints(sim), identity(), PowerBIOptions(mode="admin"))
        first = c.poll(sim.clock.now(), {})
        c.rewind()
        again = c.poll(sim.clock.now(), first.cursor)
        key = lambda r: (r.item_id, r.run_id, r.error_text)  # noqa: E731
        wanted = sorted(map(key, failed(r for r in first.records if r.source is Source.POWERBI)))
        assert (
            wanted
            and sorted(map(key, failed(r for r in again.records if r.source is Source.POWERBI))) == wanted
        )

    def test_workspace_mode_sees_only_member_workspaces(self, sim: Simulator) -> None:
        """'Private Sandbox' has one member, the reader app: only it sees that workspace."""

        def seen(client: str, secret: str) -> set[str]:
            http = http_for(sim, spec(sim, client, secret))
            c = PowerBIConnector(http, endpoints(sim), identity(client), PowerBIOptions(mode="workspace"))
            poll = c.poll(sim.clock.now(), {})
            assert poll.errors == []
            return {r.container_name for r in poll.records if r.source is Source.POWERBI}

        assert "Private Sandbox" in seen(READER, READER_SECRET)
        assert "Private Sandbox" not in seen(DAEMON, SECRET) and "Finance" in seen(DAEMON, SECRET)

    def test_workspace_filter(self, sim: Simulator) -> None:
        http = http_for(sim)
        options = PowerBIOptions(mode="workspace", workspaces=NameFilter(("fin*",)), dataflows=False)
        poll = PowerBIConnector(http, endpoints(sim), identity(), options).poll(sim.clock.now(), {})
        assert {r.container_name for r in poll.records if r.source is Source.POWERBI} == {"Finance"}

    def test_own_sign_in_failure_is_a_record(self, sim: Simulator) -> None:
        http = http_for(sim, spec(sim, secret="wrong"))
        poll = PowerBIConnector(http, endpoints(sim), identity(), PowerBIOptions()).poll(sim.clock.now(), {})
        (own,) = poll.records
        assert own.source is Source.SELF and own.status is RunStatus.FAILED and poll.auth_error is not None
        assert detect(own.error_text).primary == "7000215"

    def test_admin_api_not_allowed(self, sim: Simulator) -> None:
        http = http_for(sim, spec(sim, READER, READER_SECRET))
        poll = PowerBIConnector(http, endpoints(sim), identity(READER), PowerBIOptions(mode="admin")).poll(
            sim.clock.now(), {}
        )
        assert poll.errors and "HTTP 401" in poll.errors[0]


class TestFabric:
    def test_job_instances(self, sim: Simulator) -> None:
        c = FabricConnector(http_for(sim), endpoints(sim), identity(), FabricOptions())
        poll = c.poll(sim.clock.now(), {})
        assert poll.errors == []
        notebook = [r for r in failed(poll.records) if r.item_name == "nb_customer_features"]
        assert notebook and detect(notebook[0].error_text).primary == "7000215"
        assert notebook[0].item_type == "Notebook" and notebook[0].started_at is not None
        assert any(r.status is RunStatus.SKIPPED for r in poll.records)  # Deduped
        generic = [r for r in failed(poll.records) if r.item_name == "cj_orders_copy"]
        assert generic and detect(generic[0].error_text).codes == ()  # "failed without detail error"

    def test_item_types_filter(self, sim: Simulator) -> None:
        c = FabricConnector(
            http_for(sim), endpoints(sim), identity(), FabricOptions(item_types=("DataPipeline",))
        )
        poll = c.poll(sim.clock.now(), {})
        assert {r.item_type for r in poll.records if r.source is Source.FABRIC} == {"DataPipeline"}

    def test_one_broken_item_does_not_stop_the_others(self, sim: Simulator) -> None:
        c = FabricConnector(http_for(sim, base=0.01), endpoints(sim), identity(), FabricOptions())
        first = c.poll(sim.clock.now(), {})  # discovery done
        notebook = next(r.item_id for r in first.records if r.item_name == "nb_customer_features")
        sim.faults.add(FaultRule(api="fabric", kind="malformed", path_contains=f"{notebook}/jobs/instances"))
        poll = c.poll(sim.clock.now(), {})
        assert len(poll.errors) == 1 and "nb_customer_features" in poll.errors[0]
        assert {r.item_name for r in poll.records} >= {"pl_lakehouse_load", "cj_orders_copy"}


class TestADF:
    def test_windows_and_watermarks(self, sim: Simulator) -> None:
        options = ADFOptions()
        c = ADFConnector(http_for(sim), endpoints(sim), identity(), options)
        now = sim.clock.now()
        first = c.poll(now, {})
        assert first.errors == [] and first.records
        key = next(k for k in first.cursor if k.endswith("adf-sales-prod"))
        assert parse_time(first.cursor[key]) == now
        expired = [r for r in failed(first.records) if r.item_name == "pl_ingest_sales"]
        assert expired[0].extra["activity_name"] == "Copy_SalesOrders"
        assert (
            expired[0].extra["linked_service"] == "ls_sql_sales"
            and expired[0].extra["resource_group"] == "rg-data-prod"
        )
        assert detect(expired[0].error_text).primary == "7000222"
        assert "2200" in expired[0].error_code  # ADF's own code, kept apart
        oldest = min(r.started_at for r in first.records if r.started_at)
        assert oldest >= now - options.windowing.first_lookback - timedelta(hours=1)

    def test_failing_factory_keeps_its_watermark(self, sim: Simulator) -> None:
        c = ADFConnector(http_for(sim, base=0.01), endpoints(sim), identity(), ADFOptions())
        first = c.poll(sim.clock.now(), {})
        sim.clock.advance(timedelta(minutes=30))
        sim.faults.add(
            FaultRule(api="arm", kind="error5xx", path_contains="adf-sales-prod/queryPipelineRuns")
        )
        second = c.poll(sim.clock.now(), first.cursor)
        key = next(k for k in first.cursor if k.endswith("adf-sales-prod"))
        other = next(k for k in first.cursor if k.endswith("adf-legacy"))
        assert second.errors and second.cursor[key] == first.cursor[key]  # retried next cycle, same window
        assert second.cursor[other] != first.cursor[other]
        sim.faults.clear()
        third = c.poll(sim.clock.now(), second.cursor)
        assert third.errors == [] and any(r.item_name == "pl_ingest_sales" for r in third.records)

    def test_reader_role_is_not_enough(self, sim: Simulator) -> None:
        http = http_for(sim, spec(sim, READER, READER_SECRET))
        poll = ADFConnector(http, endpoints(sim), identity(READER), ADFOptions()).poll(sim.clock.now(), {})
        assert any("Reader alone is not enough" in e for e in poll.errors)


def test_synapse(sim: Simulator) -> None:
    options = SynapseOptions((SynapseWorkspace("syn-analytics-prod"),))
    poll = SynapseConnector(http_for(sim), endpoints(sim), identity(), options).poll(sim.clock.now(), {})
    assert poll.errors == []
    bad = failed(poll.records)
    assert bad and detect(bad[0].error_text).primary == "700016"
    assert detect(bad[0].error_text).findings[0].error == "unauthorized_client"


def test_graph_signin_for_a_failure(sim: Simulator) -> None:
    """The correlation id printed in a failure finds its sign-in record (and the CA policy behind it)."""
    poll = PowerBIConnector(http_for(sim), endpoints(sim), identity(), PowerBIOptions()).poll(
        sim.clock.now(), {}
    )
    board = next(r for r in failed(poll.records) if r.item_name == "Finance Board Pack")
    correlation = detect(board.error_text).findings[0].correlation_id
    assert correlation
    graph = GraphClient(http_for(sim), endpoints(sim))
    records = graph.signins_for_correlation(correlation)
    assert records and records[0]["status"]["errorCode"] == 53003
    app = graph.application("d43a1c5e-7b2f-4e8a-9c61-0f3b5a7d9e21")
    assert app and app["passwordCredentials"]
