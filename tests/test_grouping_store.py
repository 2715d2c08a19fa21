"""Siblings across polls through the real pipeline and a SQLite state file.

An item left alone by its poll finds the open lone items of earlier polls with its cause in the
store's top level (``Pipeline._siblings``); the pure rules are in ``tests/test_grouping.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.records import RunRecord, RunStatus, Source
from connectors.simulator import Simulator
from enricher.core.kb_schema import SEVERITIES
from enricher.store import SQLiteStore
from enricher.store.queries import IncidentFilter
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

APP = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp_path, json_lines=False, colour=False)
        service = Service(
            config,
            tmp_path,
            clock=sim.clock.now,
            sinks={"console": MemorySink("console")},
            store=SQLiteStore(tmp_path / "state.db"),
        )
        try:
            yield service
        finally:
            service.close()


def failed(item: str, svc: Service, after: timedelta) -> RunRecord:
    at = svc.clock() + after
    return RunRecord(
        Source.ADF,
        "contoso",
        "adf-sales",
        "adf-sales",
        item,
        f"pl_{item}",
        "pipeline",
        f"run-{item}",
        RunStatus.FAILED,
        ended_at=at,
        error_text=f"AADSTS7000222: The provided client secret keys for app '{APP}' are expired.",
    )


def test_an_item_failing_an_hour_later_joins_the_first(svc: Service) -> None:
    now = svc.clock()
    svc.pipeline.ingest([failed("a", svc, timedelta(0))], now)
    top = IncidentFilter(now - timedelta(days=1), codes=("7000222",), top_level=True)
    (alone,) = svc.store.list_incidents(top, state="open")
    assert alone.children == 0 and alone.parent is None
    later = now + timedelta(hours=1)
    svc.pipeline.ingest([failed("b", svc, timedelta(hours=1))], later)
    (parent,) = svc.store.list_incidents(top, state="open")
    assert parent.children == 2 and parent.root_cause == {"key": "client_id", "value": APP, "label": APP}
    every = svc.store.list_incidents(
        IncidentFilter(now - timedelta(days=1), codes=("7000222",)), state="open"
    )
    assert sorted(i.parent or "" for i in every if not i.children) == [parent.id, parent.id]
    # the open-incident counts stay true: the sibling was read, not opened again
    assert sum(svc.store.open_counts().values()) == len(every) == 3
    gauge = [svc.metrics.value("aadsts_enricher_incidents_open", {"severity": s}) for s in SEVERITIES]
    assert sum(gauge) == 3
