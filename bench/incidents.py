"""Benchmark: what a poll, a flush and the dashboard cost as the incident book grows.

Run: ``make bench-incidents`` (or ``.venv/bin/python bench/incidents.py [--sizes 100,1000] [--postgres]``).
For each size N, a fresh SQLite state file (or PostgreSQL database) and the real ``Pipeline`` (a connector that hands it
prepared runs; no network) go through: a first poll ingesting N new failures (N open incidents),
the flush that announces them, then the steady state: a poll with one new failure, a flush with
nothing due, and a flush at reminder time (all N incidents due). The naive column is what every
flush used to do first: read and decode every open incident. Each figure is the best of
``--repeat`` runs (the first poll and the first flush happen once). ``ratio`` is the figure at N
divided by the figure at the smallest N.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.base import Poll
from connectors.records import RunRecord, RunStatus, Source
from enricher import config as cfg
from enricher.core.knowledge import load_knowledge
from enricher.dashboard.routes import Dashboard
from enricher.store import SQLiteStore
from enricher.store.codec import incident_from
from enricher.store.postgres import PostgresStore
from enricher.wiring.build import SourceJob
from enricher.wiring.pipeline import Pipeline
from tests.postgres import SKIP_REASON, Cluster, available

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
OPEN_BODIES = "SELECT body FROM incidents WHERE state = 'open'"
CODES = ("53003", "7000222", "700082", "50076", "7000215")


@dataclass
class Feed:
    """A connector that returns whatever runs the bench put in it, once."""

    source: Source = Source.POWERBI
    name: str = "bench/powerbi"
    runs: list[RunRecord] = field(default_factory=list)

    def poll(self, now: datetime, cursor: dict[str, str]) -> Poll:
        runs, self.runs = self.runs, []
        return Poll(records=runs, cursor={"at": now.isoformat()})


def failure(n: int, at: datetime, run: str = "r0") -> RunRecord:
    code = CODES[n % len(CODES)]
    return RunRecord(
        Source.POWERBI,
        "contoso",
        f"ws{n % 500}",
        f"Workspace {n % 500}",
        f"ds{n}",
        f"Dataset {n}",
        "dataset",
        f"{run}-{n}",
        RunStatus.FAILED,
        ended_at=at,
        error_text=f"AADSTS{code}: sign-in failed. Trace ID: 0000aaaa-{n:04d} Correlation ID: 1111bbbb-{n:04d}",
    )


def config(path: Path) -> cfg.Config:
    return cfg.Config.model_validate(
        {
            "tenants": [
                {
                    "name": "contoso",
                    "tenant_id": "00000000-0000-0000-0000-000000000001",
                    "credential": {"type": "client_secret", "client_id": "x", "client_secret": "y"},
                    "sources": [{"type": "powerbi"}],
                }
            ],
            "sinks": [{"type": "jsonl", "name": "file", "path": str(path / "out.jsonl")}],
            "state": {"path": str(path / "state.db")},
        }
    )


def best(repeat: int, run: Callable[[int], object]) -> float:
    times = []
    for i in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    return min(times)


def once(run: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(size: int, repeat: int, kb: object, cluster: Cluster | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        conf = config(Path(tmp))
        store: SQLiteStore | PostgresStore
        if cluster is None:
            store = SQLiteStore(Path(tmp) / "state.db")
            read_open = lambda: store._db.execute(OPEN_BODIES).fetchall()  # type: ignore[union-attr]  # noqa: E731
        else:
            store = PostgresStore(cluster.create(f"bench_{size}"))
            read_open = lambda: store._run(OPEN_BODIES).fetchall()  # type: ignore[union-attr]  # noqa: E731
        feed = Feed()
        pipe = Pipeline(conf, store, kb, [SourceJob(feed.name, feed, timedelta(minutes=1))])  # type: ignore[arg-type]
        job = pipe.jobs[0]
        feed.runs = [failure(n, T0) for n in range(size)]
        cpu = time.process_time()
        row: dict[str, float] = {"ingest": once(lambda: pipe.poll(job, T0))}
        row["ingest_cpu"] = time.process_time() - cpu  # this process's CPU: what the load leaves out
        row["announce"] = once(lambda: pipe.flush(T0 + timedelta(minutes=1)))
        step = T0 + timedelta(minutes=2)

        def one_failure(i: int) -> None:
            feed.runs = [failure(size + i, step, run=f"s{i}")]
            pipe.poll(job, step)

        row["poll_one"] = best(repeat, one_failure)
        row["flush_steady"] = best(repeat, lambda i: pipe.flush(step + timedelta(seconds=2 * i)))
        row["naive_load"] = best(repeat, lambda i: [incident_from(b) for (b,) in read_open()])
        remind = T0 + timedelta(hours=5)
        row["flush_remind"] = once(lambda: pipe.flush(remind))
        board = Dashboard(store, lambda: step)
        row["api_incidents"] = best(repeat, lambda i: board.api_incidents({}))
        row["api_stats"] = best(repeat, lambda i: board.api_stats({}))
        row["page"] = best(repeat, lambda i: board.page({}))
        row["page_search"] = best(repeat, lambda i: board.page({"q": ["workspace 7"]}))
        row["page_deep"] = best(repeat, lambda i: board.page({"sort": ["first"], "page": ["40"]}))
        store.close()
        return row


COLUMNS = (
    ("ingest", "first poll, N new failures"),
    ("ingest_cpu", "the same, CPU time"),
    ("poll_one", "poll, 1 new failure"),
    ("flush_steady", "flush, nothing due"),
    ("naive_load", "naive: load open book"),
    ("flush_remind", "flush, N reminders due"),
    ("announce", "flush announcing N"),
    ("api_incidents", "/api/incidents"),
    ("api_stats", "/api/stats"),
    ("page", "page `/`"),
    ("page_search", "page `/?q=workspace 7`"),
    ("page_deep", "page `/?sort=first&page=40`"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL 15 instead of SQLite")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kb = load_knowledge()
    rows = {}
    cluster = None
    if args.postgres:
        if not available():
            sys.exit(f"bench/incidents.py: {SKIP_REASON}")
        cluster = Cluster()
        cluster.start()
    try:
        for size in sizes:
            rows[size] = measure(size, args.repeat, kb, cluster)
            print(f"measured N={size:,}", file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.destroy()
    print(f"store: {'PostgreSQL 15 (throwaway cluster, fsync off)' if cluster else 'SQLite'}")
    base = rows[sizes[0]]
    print(
        "| step | " + " | ".join(f"N={s:,}" for s in sizes) + f" | ratio N={sizes[-1]:,} / N={sizes[0]:,} |"
    )
    print("|---|" + "---:|" * (len(sizes) + 1))
    for key, label in COLUMNS:
        cells = " | ".join(_ms(rows[s][key]) for s in sizes)
        print(f"| {label} | {cells} | {rows[sizes[-1]][key] / base[key]:.1f} |")
    print()
    print("| N | N new failures per second (first poll) |")
    print("|---:|---:|")
    for size in sizes:
        print(f"| {size:,} | {size / rows[size]['ingest']:,.0f} |")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


if __name__ == "__main__":
    main()
