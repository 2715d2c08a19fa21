"""Benchmark: push-to-notification latency of /api/v1/ingest at a steady rate of alerts.

Run: ``make bench-ingest`` (or ``.venv/bin/python bench/ingest.py [--rate 100] [--seconds 10]``).
The real daemon wiring runs in this process (``Daemon._start``: scheduler with its flush job,
health server with the ingest endpoint, a delivery worker per sink, SQLite store in a temp dir);
a client thread posts Alertmanager webhook bodies, one alert each, each a new AADSTS incident, at
``--rate`` per second. A sink records when each notification reaches it. Printed: p50, p99 and
max of (sink reached - request sent), with ``incidents.group_wait: 0``.

The baseline is the same run with the ingest's flush wake-up turned off, i.e. what a pushed alert
would wait if it sat until the next flush tick (``delivery.interval``, 2 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enricher import config as cfg
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.wiring.daemon import Service
from enricher.wiring.process import Daemon

TOKEN = "bench-ingest-token"


class Stopwatch:
    """A sink that notes the monotonic time each alert's notification reaches it."""

    name = "stopwatch"
    rate = 0.0
    send_resolved = True

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    def send(self, notification: Notification) -> DeliveryResult:
        self.arrived.setdefault(notification.item.item_name, time.monotonic())
        return DeliveryResult.success()

    def close(self) -> None:
        pass


def config(state: Path) -> cfg.Config:
    return cfg.Config.model_validate(
        {
            "tenants": [
                {
                    "name": "bench",
                    "tenant_id": "72f988bf-0000-0000-0000-000000000000",
                    "credential": {"type": "default"},
                    "sources": [{"type": "powerbi", "enabled": False}],
                }
            ],
            "sinks": [{"type": "console", "name": "stopwatch"}],
            "incidents": {"group_wait": "0s"},
            "health": {"listen": "127.0.0.1:0"},
            "ingest": {"enabled": True, "token": TOKEN, "rate_per_second": 1000, "burst": 1000},
            "state": {"path": str(state)},
        }
    )


def body(i: int) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": f"bench-{i}", "source": "adf", "factory": "adf-bench"},
        "annotations": {
            "description": f"Copy failed: AADSTS7000222: The provided client secret keys for app '{i:08x}-0000-4000-8000-000000000000' are expired."
        },
        "startsAt": "2026-12-05T18:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{i:016x}",
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def run(rate: float, seconds: float, wake: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        sink = Stopwatch()
        svc = Service(config(Path(tmp)), Path(tmp), sinks={"stopwatch": sink})
        running = Daemon(svc)._start(svc)
        if not wake:
            svc.flush_soon = lambda: None
        url = running.server.url + "/api/v1/ingest/alertmanager?token=" + TOKEN
        sent: dict[str, float] = {}
        count = int(rate * seconds)
        session = requests.Session()
        start = time.monotonic()
        for i in range(count):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent[f"bench-{i}"] = time.monotonic()
            answer = session.post(url, data=body(i), timeout=10)
            assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 30
        while len(sink.arrived) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        running.stop()
        missing = count - len(sink.arrived)
        if missing:
            print(f"  {missing} of {count} notifications did not arrive within 30 s")
        return sorted(sink.arrived[k] - sent[k] for k in sent if k in sink.arrived)


def describe(label: str, latencies: list[float]) -> dict[str, float]:
    p = statistics.quantiles(latencies, n=100)
    found = {"p50": p[49], "p99": p[98], "max": latencies[-1]}
    print(
        f"{label:<34} p50 {found['p50'] * 1000:7.1f} ms   p99 {found['p99'] * 1000:7.1f} ms   "
        f"max {found['max'] * 1000:7.1f} ms   (n={len(latencies)})"
    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="alerts per second (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to push (default 10)")
    args = parser.parse_args(argv)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running" is expected
    print(
        f"push -> notification at {args.rate:g} alerts/s for {args.seconds:g} s (Alertmanager webhook, one alert per request)"
    )
    ours = describe("ingest wakes the flush", run(args.rate, args.seconds, wake=True))
    base = describe("baseline: wait for the flush tick", run(args.rate, args.seconds, wake=False))
    print(f"baseline / ours: p50 x{base['p50'] / ours['p50']:.1f}, p99 x{base['p99'] / ours['p99']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
