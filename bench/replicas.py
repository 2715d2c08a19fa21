"""Replicas: 300 simulated tenants polled by 1 and by 3 daemons sharing one PostgreSQL store.

Run: ``make bench-replicas`` (or ``.venv/bin/python bench/replicas.py [--tenants N] [--replicas 1 3]``).
Needs Debian's PostgreSQL 15 (``make postgres``): a throwaway cluster is started as in the tests.
The simulator serves ``--tenants`` tenants, each with its own app and one Power BI workspace of two
datasets, one failing with AADSTS53003; every tenant is configured with its Power BI source
(``interval`` 60 s), and one webhook receiver on 127.0.0.1 counts notifications by ``webhook-id``.

For each replica count, on a fresh database: the daemons start together; measured are the start
(process start to the first successful poll: start-up, plus one lease step, 15 s here, in which
replicas announce themselves before dividing the jobs), the first full cycle (first to last
source's first successful poll, read from the shared heartbeats), the time from start until
every tenant's failure was notified, notifications per second while they arrived, HTTP
requests each replica made (its ``aadsts_enricher_api_requests_total``) and the leases each held.
A notification arriving twice would be printed as a duplicate. Numbers depend on the machine (and
on what else runs on it); the ratio between the rows is the point.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simulator import Simulator
from connectors.simulator.scenario import parse_scenario
from tests.postgres import SKIP_REASON, Cluster, available

SCRIPT = str(Path(sys.executable).with_name("aadsts-enricher"))
NS = uuid.UUID("8d6f0a52-3c1e-4b7a-9f20-5e4d3c2b1a09")


def scenario(tenants: int) -> Any:
    start = datetime.now(UTC).replace(microsecond=0).isoformat()
    data = {
        "name": "replicas",
        "seed": 7,
        "clock": {"start": start, "speed": 1, "history": "1d"},
        "tenants": [
            {
                "id": str(uuid.uuid5(NS, f"tenant-{n}")),
                "domain": f"t{n}.example.com",
                "name": f"T{n}",
                "apps": [
                    {
                        "name": "aadsts-enricher",
                        "client_id": str(uuid.uuid5(NS, f"app-{n}")),
                        "admin_api": True,
                        "secrets": [{"value": f"bench-secret-{n}", "end": "+365d"}],
                    }
                ],
                "powerbi": {
                    "capacities": [{"name": f"Cap {n}", "sku": "F2", "region": "West Europe"}],
                    "workspaces": [
                        {
                            "name": f"Finance {n}",
                            "capacity": f"Cap {n}",
                            "datasets": [
                                {
                                    "name": f"Board {n}",
                                    "schedule": {"every": "1h"},
                                    "duration": "4m",
                                    "failure": {"code": 53003, "from": "-2h"},
                                },
                                {"name": f"Sales {n}", "schedule": {"every": "1h"}, "duration": "3m"},
                            ],
                        }
                    ],
                },
            }
            for n in range(tenants)
        ],
    }
    return parse_scenario(data, "bench/replicas.py")


class Receiver:
    """Counts webhook-ids and remembers when each arrived."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.times: list[float] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.keys[self.headers.get("webhook-id", "")] += 1
                    outer.times.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(sim: Simulator, url: str, hook: str, port: int) -> dict[str, Any]:
    ep = sim.endpoints
    return {
        "tenants": [
            {
                "name": f"t{n}",
                "tenant_id": t.id,
                "endpoints": {
                    k: ep[k] for k in ("authority", "powerbi", "fabric", "arm", "graph", "synapse")
                },
                "ca_bundle": str(sim.ca_path),
                "credential": {
                    "type": "client_secret",
                    "client_id": t.apps[0].client_id,
                    "client_secret": t.apps[0].secrets[0].value,
                },
                "sources": [{"type": "powerbi", "mode": "admin", "interval": "60s"}],
            }
            for n, t in enumerate(sim.scenario.tenants)
        ],
        "sinks": [{"name": "hook", "type": "webhook", "url": hook}],
        "incidents": {"group_wait": "1s"},
        "delivery": {"interval": "1s"},
        "health": {"listen": f"127.0.0.1:{port}"},
        "log": {"format": "json", "level": "warning"},
        "state": {"url": url},
    }


def scrape(port: int) -> tuple[float, int]:
    """HTTP requests this replica made, and how many leases it holds."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    requests = sum(
        float(v) for v in re.findall(r"^aadsts_enricher_api_requests_total\{[^}]*\} (\S+)$", text, re.M)
    )
    held = re.search(r"^aadsts_enricher_leases_held (\S+)$", text, re.M)
    return requests, int(float(held.group(1))) if held else 0


def polled(url: str) -> int:
    """Sources polled successfully at least once (0 until a daemon created the schema)."""
    try:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM heartbeat WHERE name LIKE 'poll:%' AND detail = 'ok'"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def run(sim: Simulator, cluster: Cluster, replicas: int, tenants: int, work: Path) -> dict[str, Any]:
    url = cluster.create(f"bench_{replicas}")
    receiver = Receiver()
    procs = []
    ports = []
    for i in range(replicas):
        port = free_port()
        path = work / f"r{replicas}-{i}.yaml"
        path.write_text(yaml.safe_dump(config(sim, url, receiver.url, port)), encoding="utf-8")
        log = (work / f"r{replicas}-{i}.log").open("ab")
        procs.append(
            subprocess.Popen([SCRIPT, "run", "--config", str(path)], stdout=log, stderr=log, cwd=work)
        )
        ports.append(port)
    started = time.monotonic()
    cycle = notified = first = None
    deadline = started + 900
    try:
        while time.monotonic() < deadline and (cycle is None or notified is None):
            time.sleep(0.25)
            done = polled(url)
            if first is None and done > 0:
                first = time.monotonic()
            if cycle is None and first is not None and done >= tenants:
                cycle = time.monotonic() - first
            if notified is None and len(receiver.keys) >= tenants:
                notified = time.monotonic() - started
        scraped = [scrape(p) for p in ports]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        receiver.server.shutdown()
    times = receiver.times
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return {
        "replicas": replicas,
        "cycle": cycle,
        "start": first - started if first is not None else None,
        "notified": notified,
        "rate": rate,
        "requests": [int(r) for r, _ in scraped],
        "leases": [h for _, h in scraped],
        "keys": len(receiver.keys),
        "duplicates": sum(n - 1 for n in receiver.keys.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    if not available():
        sys.exit(f"bench/replicas.py: {SKIP_REASON}")
    cluster = Cluster()
    cluster.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for count in args.replicas:
                # a fresh simulator per row: the same failures, "now" for each run
                with Simulator(scenario=scenario(args.tenants), port=0, speed=1.0, latency_ms=30) as sim:
                    rows.append(run(sim, cluster, count, args.tenants, Path(tmp)))
    finally:
        cluster.destroy()
    print(f"{args.tenants} tenants, one Power BI source each (60 s interval), simulator latency 30 ms")
    print(
        f"{'replicas':>8} {'start':>7} {'first cycle':>12} {'all notified':>13} {'notif/s':>8} {'requests per replica':>24} {'leases per replica':>20} {'dupes':>6}"
    )
    for r in rows:
        cycle = f"{r['cycle']:.1f} s" if r["cycle"] is not None else "-"
        start = f"{r['start']:.1f} s" if r["start"] is not None else "-"
        notified = f"{r['notified']:.1f} s" if r["notified"] is not None else "-"
        print(
            f"{r['replicas']:>8} {start:>7} {cycle:>12} {notified:>13} {r['rate']:>8.1f} "
            f"{' / '.join(map(str, r['requests'])):>24} {' / '.join(map(str, r['leases'])):>20} {r['duplicates']:>6}"
        )
    base = rows[0]
    for r in rows[1:]:
        if base["cycle"] and r["cycle"]:
            print(
                f"first cycle, {r['replicas']} replicas vs {base['replicas']}: {base['cycle'] / r['cycle']:.2f}x"
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
