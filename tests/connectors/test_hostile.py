"""Hostile and odd answers over HTTPS: each is bounded, reported once for its item, and the other
items of the cycle are still polled."""

from __future__ import annotations

from datetime import timedelta

from connectors.adf import ADFConnector, ADFOptions
from connectors.fabric import FabricConnector, FabricOptions
from connectors.powerbi import PowerBIConnector, PowerBIOptions
from connectors.records import Source
from connectors.simulator import FaultRule, Simulator
from tests.connectors.conftest import endpoints, http_for, identity

NOTEBOOK = "nb_customer_features"


def fabric(sim: Simulator, **policy: float) -> FabricConnector:
    return FabricConnector(http_for(sim, base=0.01, **policy), endpoints(sim), identity(), FabricOptions())


def item_id(sim: Simulator, name: str) -> str:
    poll = fabric(sim).poll(sim.clock.now(), {})
    return next(r.item_id for r in poll.records if r.item_name == name)


def items_seen(poll) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.item_name for r in poll.records if r.source is Source.FABRIC}


class TestOneItemMisbehaves:
    """A fault on one item's job list: that item is a problem, reported once; the rest is read."""

    def check(self, sim: Simulator, fault: FaultRule, kind: str, **policy: float) -> None:
        sim.faults.add(fault)
        connector = fabric(sim, **policy)
        first = connector.poll(sim.clock.now(), {})
        assert [(n.kind, n.item) for n in first.notices] == [(kind, f"Notebook Data Engineering/{NOTEBOOK}")]
        assert len(first.errors) == 1 and NOTEBOOK not in items_seen(first)
        assert {"pl_lakehouse_load", "cj_orders_copy"} <= items_seen(first)
        second = connector.poll(sim.clock.now(), first.cursor)
        assert second.notices == [] and len(second.errors) == 1  # still failing, not reported again
        sim.faults.clear()
        third = connector.poll(sim.clock.now(), second.cursor)
        assert third.errors == [] and NOTEBOOK in items_seen(third)

    def test_hung_host_connect_ok_no_bytes(self, sim: Simulator) -> None:
        rule = FaultRule(api="fabric", kind="slow", delay_ms=2000, path_contains=item_id(sim, NOTEBOOK))
        self.check(sim, rule, "timeout", timeout=0.2, attempts=2)

    def test_hung_host_is_cut_off_by_the_deadline(self, sim: Simulator) -> None:
        rule = FaultRule(api="fabric", kind="slow", delay_ms=2000, path_contains=item_id(sim, NOTEBOOK))
        self.check(sim, rule, "timeout", timeout=0.2, attempts=50, deadline=0.5)

    def test_truncated_json(self, sim: Simulator) -> None:
        rule = FaultRule(api="fabric", kind="truncated", path_contains=item_id(sim, NOTEBOOK))
        self.check(sim, rule, "bad_json")

    def test_page_of_100k_rows_is_over_the_byte_cap(self, sim: Simulator) -> None:
        rule = FaultRule(api="fabric", kind="flood", rows=100_000, path_contains=item_id(sim, NOTEBOOK))
        self.check(sim, rule, "too_large", max_bytes=1_000_000)

    def test_refused(self, sim: Simulator) -> None:
        rule = FaultRule(api="fabric", kind="forbidden", path_contains=item_id(sim, NOTEBOOK))
        self.check(sim, rule, "http_403")


class TestPollDeadline:
    def test_items_not_started_by_the_deadline_wait_for_the_next_cycle(self, sim: Simulator) -> None:
        """Every job list hangs: the poll stops starting items at its deadline and returns; each
        item is reported (timed out, or not polled), and the next cycle reads them again."""
        sim.faults.add(FaultRule(api="fabric", kind="slow", delay_ms=2000, path_contains="/jobs/instances"))
        http = http_for(
            sim, base=0.01, timeout=1.0, attempts=1, poll_deadline=0.5
        )  # the list calls must finish under load; the 2 s job lists cannot
        options = FabricOptions(workers=1)
        connector = FabricConnector(http, endpoints(sim), identity(), options)
        poll = connector.poll(sim.clock.now(), {})
        kinds = {n.kind for n in poll.notices}
        assert "deadline" in kinds and kinds <= {"deadline", "timeout"}
        assert len(poll.errors) == 3 and items_seen(poll) == set()
        sim.faults.clear()
        again = connector.poll(sim.clock.now(), poll.cursor)
        assert again.errors == [] and NOTEBOOK in items_seen(again)


class TestListings:
    def test_looping_paging_link_keeps_what_was_read(self, sim: Simulator) -> None:
        """Every items page links back to itself: the first page is kept, the loop is reported."""
        sim.faults.add(FaultRule(api="fabric", kind="loop", path_contains="/items"))
        connector = fabric(sim)
        poll = connector.poll(sim.clock.now(), {})
        loops = [n for n in poll.notices if n.kind == "link_loop"]
        assert loops and all(n.item.startswith("items of workspace") for n in loops)
        assert NOTEBOOK in items_seen(poll)

    def test_skip_ignored_is_a_loop_and_the_first_page_counts(self, sim: Simulator) -> None:
        """Refreshables answers every $skip with its first page: paging stops, that page's
        refreshes are records, and the rest of the poll (dataflows) goes on."""
        sim.faults.add(FaultRule(api="powerbi", kind="loop", path_contains="refreshables"))
        options = PowerBIOptions(mode="admin", page_size=2)
        poll = PowerBIConnector(http_for(sim), endpoints(sim), identity(), options).poll(sim.clock.now(), {})
        assert [(n.kind, n.item) for n in poll.notices] == [("link_loop", "refreshables")]
        assert len({r.item_id for r in poll.records if r.source is Source.POWERBI}) == 2
        assert any(r.source is Source.POWERBI_DATAFLOW for r in poll.records)

    def test_page_cap(self, sim: Simulator) -> None:
        """pl_load_crm runs every 5 minutes: a day of runs is several pages; two is the cap here."""
        connector = ADFConnector(
            http_for(sim, base=0.01, max_pages=2), endpoints(sim), identity(), ADFOptions()
        )
        poll = connector.poll(sim.clock.now(), {})
        caps = [n for n in poll.notices if n.kind == "page_cap"]
        assert caps and "adf-sales-prod" in caps[0].item
        assert not any(k.endswith("adf-sales-prod") for k in poll.cursor)  # its window is read again

    def test_failed_dataset_listing_keeps_the_last_good_one(self, sim: Simulator) -> None:
        """Workspace mode: the listing fails after a good one; the datasets are still polled, and
        the catalog is listed again next cycle instead of staying empty for the interval."""
        http = http_for(sim, base=0.01)
        options = PowerBIOptions(mode="workspace", discovery_interval=timedelta(minutes=1))
        connector = PowerBIConnector(http, endpoints(sim), identity(), options)
        first = connector.poll(sim.clock.now(), {})
        names = {r.item_name for r in first.records if r.source is Source.POWERBI}
        assert "Finance Board Pack" in names
        sim.faults.add(FaultRule(api="powerbi", kind="error5xx", status=503, path_contains="/datasets"))
        second = connector.poll(sim.clock.now() + timedelta(minutes=2), first.cursor)
        assert any(e.startswith("datasets of workspace Finance:") for e in second.errors)
        # the datasets of the last good listing are still asked for (here their history fails too)
        assert any(e.startswith("dataset Finance/Finance Board Pack:") for e in second.errors)
        sim.faults.clear()
        third = connector.poll(sim.clock.now() + timedelta(seconds=150), second.cursor)
        assert third.errors == []

    def test_refused_dataflow_listing_never_empties_the_datasets(self, sim: Simulator) -> None:
        sim.faults.add(FaultRule(api="powerbi", kind="forbidden", path_contains="/dataflows"))
        options = PowerBIOptions(mode="workspace")
        poll = PowerBIConnector(http_for(sim), endpoints(sim), identity(), options).poll(sim.clock.now(), {})
        assert poll.errors == []
        assert "Finance Board Pack" in {r.item_name for r in poll.records if r.source is Source.POWERBI}
        assert {n.kind for n in poll.notices} == {"http_403"}
        assert all(n.item.startswith("dataflows of workspace") for n in poll.notices)

    def test_dataflows_false_makes_no_dataflow_call(self, sim: Simulator) -> None:
        rule = sim.faults.add(FaultRule(api="powerbi", kind="forbidden", path_contains="/dataflows"))
        options = PowerBIOptions(mode="workspace", dataflows=False)
        poll = PowerBIConnector(http_for(sim), endpoints(sim), identity(), options).poll(sim.clock.now(), {})
        assert poll.errors == [] and poll.notices == [] and sim.faults.fired(rule) == 0


class TestHistoryRetried:
    def test_a_history_that_failed_is_asked_for_again_next_cycle(self, sim: Simulator) -> None:
        """Admin mode: the last refresh counts at once; the history behind it (how many scheduled
        refreshes failed in a row) is read on the next cycle when it failed on this one."""
        rule = sim.faults.add(
            FaultRule(api="powerbi", kind="error5xx", status=503, path_contains="/refreshes")
        )
        connector = PowerBIConnector(
            http_for(sim, base=0.01, attempts=1), endpoints(sim), identity(), PowerBIOptions(mode="admin")
        )
        first = connector.poll(sim.clock.now(), {})
        board = [r for r in first.records if r.item_name == "Finance Board Pack"]
        assert len(board) == 1 and any(
            e.startswith("dataset Finance/Finance Board Pack:") for e in first.errors
        )
        assert sim.faults.fired(rule) > 0
        sim.faults.clear()
        second = connector.poll(sim.clock.now(), first.cursor)
        again = {r.run_id for r in second.records if r.item_name == "Finance Board Pack"}
        assert len(again - {board[0].run_id}) >= 3 and second.errors == []
