"""A parent's permalink, the page notifications link to ("All N items"), through the real pipeline.

Three Data Factory pipelines fail with the same expired client secret: one parent with three
children. Its page lists every child with a link to each child's own page, and the timeline holds
the failures and the notification queued for the console sink.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.records import RunRecord, RunStatus, Source
from connectors.simulator import Simulator
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.dashboard.conftest import Served
from tests.fakes import MemorySink

APP = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, Service]]:
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp_path, json_lines=False, colour=False)
        svc = Service(
            config,
            tmp_path,
            clock=sim.clock.now,
            sinks={"console": MemorySink("console")},
            store=MemoryStore(),
        )
        server = svc.health_server().start()
        try:
            yield Served(server.url, sim.clock.now(), svc), svc
        finally:
            server.stop()
            svc.close()


def failed(item: str, svc: Service) -> RunRecord:
    return RunRecord(
        Source.ADF, "contoso", "adf-sales", "adf-sales", item, f"pl_{item}", "pipeline", f"run-{item}",
        RunStatus.FAILED, ended_at=svc.clock(),
        error_text=f"AADSTS7000222: The provided client secret keys for app '{APP}' are expired.",
    )  # fmt: skip


def test_a_parents_page_lists_every_child(served: tuple[Served, Service]) -> None:
    web, svc = served
    now = svc.clock()
    svc.pipeline.ingest([failed(x, svc) for x in "abc"], now)
    svc.pipeline.flush(now, wait=False)
    (parent,) = [i for i in web.json("/api/incidents?code=7000222&state=open")["incidents"] if i["children"]]
    status, headers, body = web.get(f"/incidents/{parent['id']}")
    html = body.decode()
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    rows = re.findall(
        r'<tr data-id="([^"]+)"><td data-label="Item"><a href="/incidents/\1">(pl_\w)</a>', html
    )
    assert sorted(name for _, name in rows) == ["pl_a", "pl_b", "pl_c"] and parent["children"] == 3
    child_status, _, child = web.get(f"/incidents/{rows[0][0]}")
    assert child_status == 200 and f'href="/incidents/{parent["id"]}"' in child.decode()  # back to the parent
    kinds = re.findall(r'data-kind="([\w-]+)"', html)
    assert "notified" in kinds and 'data-sinks="console"' in html


def test_the_timeline_says_what_the_sink_did(served: tuple[Served, Service]) -> None:
    """After delivery the page says the alert reached the console sink, not only that it was queued."""
    web, svc = served
    now = svc.clock()
    svc.pipeline.ingest([failed(x, svc) for x in "ab"], now)
    svc.pipeline.flush(now, wait=False)
    (parent,) = [i for i in web.json("/api/incidents?code=7000222&state=open")["incidents"] if i["children"]]
    before = web.get(f"/incidents/{parent['id']}")[2].decode()
    assert 'data-kind="notified"' in before and 'data-kind="delivered"' not in before
    assert svc.deliverer.deliver_due().delivered >= 1
    html = web.get(f"/incidents/{parent['id']}")[2].decode()
    assert re.search(
        r'data-kind="delivered" data-sinks="console">.{0,200}?<strong>Alert delivered to console</strong>',
        html,
    )
