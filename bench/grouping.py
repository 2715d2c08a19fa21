"""Benchmark: one root cause, one alert, on the ``scale`` scenario's first cycle.

Run: ``make bench-grouping`` (or ``.venv/bin/python bench/grouping.py [--cycles N]``). The bundled
simulator serves the ``scale`` tenant (100,000 datasets, 2,000 ADF pipelines, 0.2% of them failing
with an AADSTS code behind a few broken apps, data sources and linked services) over HTTPS in this
process, its clock frozen; the real daemon (Power BI admin mode without dataflows, ADF) runs the
cycles into a SQLite store. Printed: failing items, parents, lone incidents, open incidents at the
top level (as ``/api/incidents`` lists them, read over HTTP, and as the store counts them),
notifications, and the ratio of failing items to top-level open incidents, against the naive
baseline of one incident per item. Nothing here is timed; ``tests/test_grouping_scale.py`` checks
the same contract on a smaller tenant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simulator import Scenario, Simulator
from enricher import config as cfg
from enricher.core.incidents import Incident
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.store import SQLiteStore
from enricher.store.queries import IncidentFilter
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data


class Collect:
    """A sink that keeps what it was sent."""

    name = "collect"
    rate = 0.0
    send_resolved = True

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        with self._lock:
            self.sent.append(notification)
        return DeliveryResult.success("ok")

    def close(self) -> None:
        pass


@dataclass
class Figure:
    failing: int  # items whose latest run failed with a code (children and lone incidents)
    parents: int
    lone: int
    top_level_api: int  # open incidents at the top level of /api/incidents
    top_level_store: int
    notifications: int
    orphans: list[str]  # failing items in no parent and no lone incident (must be empty)
    twice: list[str]  # failing items in more than one top-level incident (must be empty)
    mixed: list[str]  # notifications whose items come from more than one root cause (must be empty)
    children: int = 0  # incidents that are a parent's child
    metrics: str = ""  # the daemon's /metrics text after the cycles

    def counted(self, name: str) -> float:
        """The sum of a counter's samples in ``metrics`` (``aadsts_enricher_`` + ``name``)."""
        from prometheus_client.parser import text_string_to_metric_families

        full = f"aadsts_enricher_{name}"
        return sum(
            s.value
            for family in text_string_to_metric_families(self.metrics)
            for s in family.samples
            if s.name == full
        )

    @property
    def ratio(self) -> float:
        return self.failing / max(self.top_level_api, 1)


def scale_config(sim: Simulator, data_dir: Path) -> cfg.Config:
    raw = demo_config_data(sim, data_dir)
    raw["tenants"][0]["name"] = "scale"
    raw["tenants"][0]["sources"] = [
        {"type": "powerbi", "mode": "admin", "interval": "10m", "dataflows": False},
        {"type": "adf", "interval": "10m", "lookback": "12h"},
    ]
    raw["sinks"] = [{"name": "collect", "type": "console"}]
    return cfg.Config.model_validate(raw)


def measure(scenario: str | Scenario, cycles: int, data_dir: Path) -> Figure:
    sink = Collect()
    with Simulator(scenario=scenario, port=0, speed=0) as sim:
        store = SQLiteStore(data_dir / "state.db")
        svc = Service(
            scale_config(sim, data_dir), data_dir, clock=sim.clock.now, sinks={"collect": sink}, store=store
        )
        server = svc.health_server("127.0.0.1:0").start()
        try:
            for n in range(cycles):
                if n:
                    sim.clock.advance(timedelta(minutes=10))
                report, _ = svc.cycle(wait=False)
                for p in report.polls:
                    if p.errors:
                        print(f"  ({p.source}: {len(p.errors)} poll problems, first: {p.errors[0][:120]})")
            svc.deliverer.deliver_due()
            with urllib.request.urlopen(f"{server.url}/api/incidents?state=open&range=30d&limit=1") as answer:
                api: dict[str, Any] = json.load(answer)
            since = sim.clock.now() - timedelta(days=30)
            top_store = store.count_incidents(IncidentFilter(since, top_level=True)).get("open", 0)
            every = store.list_incidents(IncidentFilter(since), state="open", limit=10_000_000)
            with urllib.request.urlopen(f"{server.url}/metrics") as answer:
                metrics = answer.read().decode()
            figure = figure_of(every, sink.sent, int(api["open"]), top_store)
            return dataclasses.replace(figure, metrics=metrics)
        finally:
            server.stop()
            svc.close()


def figure_of(every: list[Incident], sent: list[Notification], top_api: int, top_store: int) -> Figure:
    parents = [i for i in every if i.children]
    children = [i for i in every if i.parent]
    lone = [i for i in every if not i.children and not i.parent]
    failing = {k for i in (*children, *lone) for k in i.item_keys}
    homes = Counter(k for i in (*parents, *lone) for k in i.item_keys)
    cause_of = {(i.items[0].item_id if i.items else ""): str(i.root_cause) for i in (*children, *lone)}
    mixed = [
        n.title for n in sent if len({cause_of.get(item.item_id, "") for item in n.items if item.item_id}) > 1
    ]
    return Figure(
        failing=len(failing),
        parents=len(parents),
        lone=len(lone),
        top_level_api=top_api,
        top_level_store=top_store,
        notifications=len(sent),
        orphans=sorted(failing - set(homes)),
        twice=sorted(k for k, n in homes.items() if n > 1),
        mixed=mixed,
        children=len(children),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1, help="cycles to run, 10 simulated minutes apart")
    args = ap.parse_args()
    f = measure("scale", args.cycles, Path(tempfile.mkdtemp(prefix="bench-grouping-")))
    print(f"scale scenario, {args.cycles} cycle(s):")
    print(f"  failing items                     {f.failing}")
    print(f"  parents                           {f.parents}   ({f.children} children)")
    print(
        f"  /metrics counters                 parents_opened {f.counted('parents_opened_total'):.0f}, "
        f"children {f.counted('children_total'):.0f}"
    )
    print(f"  lone incidents                    {f.lone}")
    print(f"  top-level open (/api/incidents)   {f.top_level_api}   (store: {f.top_level_store})")
    print(f"  notifications                     {f.notifications}")
    print(f"  failing items per top-level open  {f.ratio:.1f}x   (naive, one incident per item: 1.0x)")
    print(
        f"  items in no incident {len(f.orphans)}, in two {len(f.twice)}; notifications mixing causes {len(f.mixed)}"
    )
    return 0 if not (f.orphans or f.twice or f.mixed) and f.ratio >= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
