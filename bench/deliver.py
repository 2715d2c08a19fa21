"""Benchmark: notifications per second from the outbox (SQLite) to loopback destinations.

Run: ``make bench-deliver`` (or ``.venv/bin/python bench/deliver.py [--count N]``). Fills the
outbox with N notifications of distinct incidents, then drains it with the real delivery worker:
once to one webhook (Standard Webhooks signing on), once to three sinks at once (two webhooks and a
JSONL file). The receiver is a threaded HTTP server on 127.0.0.1 that answers 200 at once.

Then, with the daemon's per-sink worker threads: the rate at which two webhooks are served with
and without a third destination that accepts every request and never answers (it must not
change), and the crash-recovery time of a real daemon process after ``kill -9`` (from
bench/killloop.py: process start to the first notification a receiver accepted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enricher.config import DeliveryConfig, JsonlSinkConfig, WebhookSinkConfig
from enricher.models import FixStep, Link
from enricher.notification import ItemRef, Notification
from enricher.sinks.jsonl import JsonlSink
from enricher.sinks.webhook import WebhookSink
from enricher.store import SQLiteStore
from enricher.wiring.delivery import Deliverer

NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Quiet.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def notification(i: int) -> Notification:
    return Notification(
        id=f"firing-{i:08d}",
        incident_id=f"inc-{i:08d}",
        kind="firing",
        severity="high",
        code="53003",
        title="AADSTS53003: Sign-in blocked by a Conditional Access policy - Board Pack",
        short="Blocked by CA",
        summary="A Conditional Access policy blocked the sign-in of the account the refresh uses.",
        cause="A policy requires a compliant device or a trusted location.",
        fixes=tuple(
            FixStep(f"Step {n}: do the thing with the correlation id", "az rest --method get ...")
            for n in range(5)
        ),
        source="powerbi",
        tenant="contoso",
        items=(ItemRef("powerbi", "Finance", "Board Pack", "dataset", "ds-1", "ws-1", "run-1"),),
        first_seen=NOW,
        last_seen=NOW,
        count=1,
        created_at=NOW,
        links=(Link("AADSTS53003 explained", "https://login.microsoftonline.com/error?code=53003"),),
        correlation_id="6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
    )


class Hung(BaseHTTPRequestHandler):
    """Accepts the request, reads it, and answers only when the benchmark is over."""

    protocol_version = "HTTP/1.1"
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Hung.release.wait(600)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def hung_receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hung)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def with_workers(sinks: dict[str, Any], healthy: set[str], count: int, folder: Path, name: str) -> float:
    """Seconds until the daemon's per-sink workers have delivered every row of the ``healthy`` sinks."""
    store = SQLiteStore(folder / f"{name}.db")
    with store.transaction():
        for i in range(count):
            store.enqueue(notification(i), list(sinks), NOW)
    policy = DeliveryConfig(interval=timedelta(milliseconds=50))
    deliverer = Deliverer(store, sinks, policy, clock=lambda: datetime.now(UTC))
    target = Quiet.received + count * len(healthy)  # watch the receiver, not the store's lock
    start = time.perf_counter()
    deliverer.start()
    while Quiet.received < target:
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    deliverer.shutdown(timeout=1.0)
    return seconds


def isolation(url: str, count: int, folder: Path) -> None:
    hung_server, hung_url = hung_receiver()

    def hook(name: str, target: str) -> WebhookSink:
        config = WebhookSinkConfig(name=name, type="webhook", url=target, rate_per_second=1e9, timeout="60s")
        return WebhookSink(config)

    runs: dict[str, list[float]] = {"calm": [], "hung": []}
    for round_ in range(2):  # alternated, best of two: the first run of a process is the slowest
        for label, times in runs.items():
            sinks = {"a": hook("a", url), "b": hook("b", url + "2")}
            if label == "hung":
                sinks["hung"] = hook("hung", hung_url)
            times.append(with_workers(sinks, {"a", "b"}, count, folder, f"{label}{round_}"))
    calm, hung = min(runs["calm"]), min(runs["hung"])
    Hung.release.set()
    hung_server.shutdown()
    for label, seconds in (("no other sink", calm), ("a third sink hangs", hung)):
        print(
            f"workers -> 2 webhooks, {label + ':':<19} {2 * count:>6} in {seconds:5.2f} s = {2 * count / seconds:7,.0f}/s"
        )
    print(f"healthy rate while one destination hangs / without it: {calm / hung:.2f}")


def recovery(kills: int) -> None:
    from killloop import run as kill_loop  # imports this module: imported late

    outcome = kill_loop(kills, 200, seed=5, folder=Path(tempfile.mkdtemp(prefix="bench-recovery-")))
    times = sorted(outcome.recovery)
    if times:
        print(
            f"crash recovery (kill -9, restart -> first notification accepted): median "
            f"{times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s over {len(times)} restarts, "
            f"{outcome.total_lost} lost"
        )


def run(sinks: dict[str, Any], count: int, folder: Path, name: str) -> tuple[float, int]:
    store = SQLiteStore(folder / f"{name}.db")
    with store.transaction():
        for i in range(count):
            store.enqueue(notification(i), list(sinks), NOW)
    deliverer = Deliverer(store, sinks, DeliveryConfig(), clock=lambda: NOW)
    start = time.perf_counter()
    delivered = 0
    while True:
        report = deliverer.deliver_due(limit=5000)
        delivered += report.delivered
        if not report.delivered and not report.retried:
            break
    seconds = time.perf_counter() - start
    store.close()
    return seconds, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=8, help="restarts for the crash-recovery figure")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-deliver-"))
    server, url = receiver()
    signed = WebhookSinkConfig(
        name="hook",
        type="webhook",
        url=url,
        rate_per_second=1e9,
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )  # type: ignore[arg-type]
    one = {"hook": WebhookSink(signed)}
    seconds, delivered = run(one, args.count, folder, "one")
    print(
        f"outbox (SQLite) -> 1 signed webhook:          {delivered:>6} in {seconds:5.2f} s = {delivered / seconds:7,.0f}/s"
    )
    second = signed.model_copy(update={"name": "hook2"})
    three = {
        "hook": WebhookSink(signed),
        "hook2": WebhookSink(second),
        "file": JsonlSink(JsonlSinkConfig(name="file", type="jsonl", path=str(folder / "out.jsonl"))),
    }
    seconds, delivered = run(three, args.count, folder, "three")
    print(
        f"outbox (SQLite) -> 2 webhooks + 1 JSONL file: {delivered:>6} in {seconds:5.2f} s = {delivered / seconds:7,.0f}/s"
        f" ({delivered / 3 / seconds:,.0f} notifications/s to all three)"
    )
    isolation(url, args.count, folder)
    if args.kills:
        recovery(args.kills)
    server.shutdown()


if __name__ == "__main__":
    main()
