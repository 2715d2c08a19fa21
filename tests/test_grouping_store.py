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
from enricher.core.incidents import Incident
from enricher.core.kb_schema import SEVERITIES
from enricher.store import SQLiteStore
from enricher.store.queries import IncidentFilter
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

APP = "11111111-2222-4333-8444-555555555555"


class CountingStore(SQLiteStore):
    """The real SQLite store, counting how often the top level is listed."""

    lists = 0

    def list_incidents(
        self, f: IncidentFilter, *, state: str | None = None, limit: int = 200
    ) -> list[Incident]:
        self.lists += 1
        return super().list_incidents(f, state=state, limit=limit)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp_path, json_lines=False, colour=False)
        service = Service(
            config,
            tmp_path,
            clock=sim.clock.now,
            sinks={"console": MemorySink("console")},
            store=CountingStore(tmp_path / "state.db"),
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


def test_a_lone_item_failing_again_does_not_look_for_siblings(svc: Service) -> None:
    """Only a newly open item reads the store's top level; a repeat failure of an open one does not."""
    store = svc.store
    assert isinstance(store, CountingStore)
    now = svc.clock()
    svc.pipeline.ingest([failed("a", svc, timedelta(0))], now)
    assert store.lists == 1
    for n in range(1, 4):
        record = failed("a", svc, timedelta(hours=n))
        again = RunRecord(**{**_fields(record), "run_id": f"run-a-{n}"})
        svc.pipeline.ingest([again], now + timedelta(hours=n))
    assert store.lists == 1
    top = IncidentFilter(now - timedelta(days=1), codes=("7000222",), top_level=True)
    (alone,) = store.list_incidents(top, state="open")
    assert alone.count == 4 and alone.children == 0


def _fields(run: RunRecord) -> dict[str, object]:
    return {name: getattr(run, name) for name in run.__slots__}  # type: ignore[attr-defined]


def test_with_external_url_a_parent_links_to_its_page_with_every_item(svc: Service) -> None:
    now = svc.clock()
    health = svc.config.health.model_copy(update={"external_url": "https://aadsts.example.com"})
    svc.pipeline.config = svc.pipeline.announcer.config = svc.config.model_copy(update={"health": health})
    svc.pipeline.ingest([failed(x, svc, timedelta(0)) for x in "abc"], now)
    sent = [n for n in svc.pipeline.flush(now, wait=False) if n.code == "7000222"]
    (parent,) = [n for n in sent if n.children]
    assert parent.links[-1].label == "All 3 items"
    assert parent.links[-1].url == f"https://aadsts.example.com/incidents/{parent.incident_id}"


def test_without_external_url_no_page_link(svc: Service) -> None:
    now = svc.clock()
    svc.pipeline.ingest([failed(x, svc, timedelta(0)) for x in "ab"], now)
    sent = svc.pipeline.flush(now, wait=False)
    assert sent and not any("/incidents/" in link.url for n in sent for link in n.links)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("aadsts.example.com", "http:// or https://"),
        ("ftp://x.example.com", "http:// or https://"),
        ("https://x.example.com/?a=1", r"no \?query"),
        ("https://x.example.com:port", "not a URL"),
    ],
)
def test_external_url_is_checked(value: str, problem: str) -> None:
    from pydantic import ValidationError

    from enricher.config import HealthConfig

    with pytest.raises(ValidationError, match=problem):
        HealthConfig(external_url=value)
    assert HealthConfig(external_url="https://x.example.com/aadsts/").external_url == (
        "https://x.example.com/aadsts"
    )
