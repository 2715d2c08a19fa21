"""Kill loop: ``kill -9`` a real daemon at random moments, many times, and count what receivers saw.

Run: ``make bench-killloop`` (or ``.venv/bin/python bench/killloop.py [--kills N] [--count N]``).
The daemon (``aadsts-enricher run``, a separate process) polls the bundled simulator and delivers
to two Standard Webhooks receivers on 127.0.0.1: ``steady`` always answers 200, ``flaky`` answers
503 during about a third of the runs (a destination that is down part of the time). Before the
first start the outbox is filled with ``--count`` notifications, so most kills land mid-delivery.
Each run is killed after a random delay; a last run drains everything and stops with SIGTERM.

``--postgres`` keeps the state in a throwaway PostgreSQL 15 cluster (``make postgres``) instead
of SQLite: the same kills against the shared store's claims (``FOR UPDATE SKIP LOCKED``). A row
claimed when its process was killed is taken again once its claim lapses (2 minutes), so the last
run drains for up to that long.

Printed per receiver: notifications that should have arrived, how many never did (lost), how many
arrived more than once as a receiver that ignores ``webhook-id`` sees them, and how many a
receiver that de-duplicates on ``webhook-id`` would still show twice. Also the crash-recovery time:
from starting the process after a kill to the first notification a receiver accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simulator import Simulator, starting_at
from enricher.store import SQLiteStore
from enricher.store.postgres import PostgresStore
from enricher.wiring.demo import demo_config_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deliver import notification

SCRIPT = str(Path(sys.executable).with_name("aadsts-enricher"))
SINKS = ("steady", "flaky")


class Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender killed mid-request resets the connection: expected here, not worth a traceback."""


class Recorder:
    """A webhook receiver: keeps (arrival, webhook-id, notification id) of every request it accepted."""

    def __init__(self) -> None:
        self.accepted: list[tuple[float, str, str]] = []
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    nid = str(json.loads(body)["data"]["id"])
                except (ValueError, KeyError, TypeError):
                    return  # the sender died mid-body: nothing was delivered, and nobody waits for an answer
                status = 503 if outer.down else 200
                if status == 200:
                    outer.accepted.append((time.monotonic(), self.headers["webhook-id"], nid))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # killed while waiting for the answer: the request counts, the answer is lost

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Outcome:
    kills: int
    expected: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    dup_raw: dict[str, int] = field(default_factory=dict)
    dup_keyed: dict[str, int] = field(default_factory=dict)
    recovery: list[float] = field(default_factory=list)

    @property
    def total_lost(self) -> int:
        return sum(self.lost.values())


def write_config(sim: Simulator, folder: Path, receivers: dict[str, Recorder], url: str | None) -> Path:
    data = demo_config_data(sim, folder / "state", listen="127.0.0.1:0")
    if url is not None:
        data["state"] = {"url": url}
    data["sinks"] = [
        {"name": name, "type": "webhook", "url": r.url, "rate_per_second": 20, "timeout": "5s"}
        for name, r in receivers.items()
    ]
    data["default_sinks"] = list(receivers)
    data["routes"] = []
    data["delivery"] = {"interval": "0.2s", "base_delay": "0.3s", "max_delay": "2s"}
    data["log"] = {"format": "json", "level": "warning"}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Outbox:
    """Reads the outbox behind the daemon's back: the SQLite file read-only, or PostgreSQL."""

    def __init__(self, db: Path, url: str | None) -> None:
        self.db, self.url = db, url

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url is None:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as con:
                return con.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as con:
            return con.execute(sql).fetchall()

    def pending(self) -> int:
        return int(self.rows("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0])


def run(kills: int, count: int, seed: int, folder: Path, url: str | None = None) -> Outcome:
    rng = random.Random(seed)
    receivers = {name: Recorder() for name in SINKS}
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    outcome = Outcome(kills)
    with Simulator(scenario=scenario, port=0, speed=1.0) as sim:
        config = write_config(sim, folder, receivers, url)
        outbox = Outbox(folder / "state" / "state.db", url)
        store = SQLiteStore(outbox.db) if url is None else PostgresStore(url)
        with store.transaction():
            for i in range(count):
                store.enqueue(notification(i), list(SINKS), datetime.now(UTC))
        store.close()
        log = (folder / "daemon.log").open("ab")
        for _ in range(kills):
            receivers["flaky"].down = rng.random() < 1 / 3
            started = time.monotonic()
            proc = subprocess.Popen(
                [SCRIPT, "run", "--config", str(config)], stdout=log, stderr=log, cwd=folder
            )
            time.sleep(rng.uniform(0.8, 3.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            arrivals = [at for r in receivers.values() for at, _, _ in r.accepted if at > started]
            if arrivals:
                outcome.recovery.append(min(arrivals) - started)
        receivers["flaky"].down = False
        proc = subprocess.Popen([SCRIPT, "run", "--config", str(config)], stdout=log, stderr=log, cwd=folder)
        deadline = time.monotonic() + 420  # PostgreSQL: a killed claim lapses after 2 minutes
        time.sleep(3)
        while outbox.pending() and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        tally(outcome, outbox, receivers)
    for r in receivers.values():
        r.close()
    return outcome


def tally(outcome: Outcome, outbox: Outbox, receivers: dict[str, Recorder]) -> None:
    rows = outbox.rows("SELECT sink, notification_id, state FROM outbox")
    for name, r in receivers.items():
        expected = {nid for sink, nid, _ in rows if sink == name}
        keys: dict[str, list[str]] = defaultdict(list)
        for _, key, nid in r.accepted:
            keys[nid].append(key)
        outcome.expected[name] = len(expected)
        outcome.lost[name] = len(expected - set(keys))
        outcome.dup_raw[name] = sum(len(k) - 1 for k in keys.values())
        outcome.dup_keyed[name] = sum(len(set(k)) - 1 for k in keys.values())


def report(o: Outcome) -> None:
    print(f"kill loop: {o.kills} kill -9 at random moments, then one clean run")
    print(
        f"{'receiver':<10}{'expected':>9}{'lost':>6}{'dup, ignoring webhook-id':>27}{'dup, honouring it':>19}"
    )
    for name in SINKS:
        print(f"{name:<10}{o.expected[name]:>9}{o.lost[name]:>6}{o.dup_raw[name]:>27}{o.dup_keyed[name]:>19}")
    if o.recovery:
        print(
            f"crash recovery (process start -> first accepted notification): median "
            f"{statistics.median(o.recovery):.2f} s, max {max(o.recovery):.2f} s over {len(o.recovery)} restarts"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--postgres", action="store_true", help="state in a throwaway PostgreSQL 15")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="killloop-"))
    if not args.postgres:
        outcome = run(args.kills, args.count, args.seed, folder)
    else:
        from tests.postgres import SKIP_REASON, Cluster, available

        if not available():
            sys.exit(f"bench/killloop.py: {SKIP_REASON}")
        cluster = Cluster()
        cluster.start()
        try:
            outcome = run(args.kills, args.count, args.seed, folder, cluster.create("killloop"))
        finally:
            cluster.destroy()
    print(f"state: {'PostgreSQL 15' if args.postgres else 'SQLite'}")
    report(outcome)
    sys.exit(1 if outcome.total_lost else 0)


if __name__ == "__main__":
    main()
