"""Three daemons sharing one PostgreSQL store: the work divided by leases, one killed with SIGKILL.

Real processes against the simulator and a real PostgreSQL; a webhook receiver on loopback
records every request with its ``webhook-id`` (the notification id: the receiver's idempotency
key). What may repeat is exactly one thing: a row the killed replica was sending when it died
(claimed, the outcome never recorded), re-sent by the survivor with the same key once the claim
lapses. Anything else arriving twice, or one failure notified under two keys, is a bug.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.simulator import Simulator, starting_at
from enricher.wiring.demo import demo_config_data
from tests.sinks.servers import Receiver
from tests.test_daemon import EXPECTED, SCRIPT, free_port, wait_for

INTERVAL = 2.0  # seconds between polls of each source


@pytest.fixture
def sim() -> Iterator[Simulator]:
    scenario = starting_at("demo", datetime.now(UTC).replace(microsecond=0))
    with Simulator(scenario=scenario, port=0, speed=1.0, latency_ms=60) as s:
        yield s


def replica_config(sim: Simulator, tmp_path: Path, name: str, url: str, hook: str) -> tuple[Path, int]:
    port = free_port()
    folder = tmp_path / name
    folder.mkdir()
    data = demo_config_data(sim, folder / "state", listen=f"127.0.0.1:{port}")
    for source in data["tenants"][0]["sources"]:
        source["interval"] = f"{INTERVAL:g}s"
    data["sinks"] = [{"name": "hook", "type": "webhook", "url": hook}]
    data["delivery"] = {"interval": "0.5s"}
    data["log"] = {"format": "json"}
    data["state"] = {"url": url}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, port


def ready(port: int) -> dict[str, Any]:
    """The replica's /readyz body (either status), or {} while it does not answer."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except (OSError, ValueError):
        return {}


def firing(receiver: Receiver) -> list[dict[str, Any]]:
    return [
        json.loads(r.body)["data"]
        for r in list(receiver.requests)
        if json.loads(r.body)["type"].endswith(".firing")
    ]


def test_the_flush_is_divided_by_tenant(postgres_url: str) -> None:
    """Two replicas, three tenants: each tenant's flush lease is held by exactly one replica, the
    scopes they flush are disjoint and cover every tenant, and only the holder of the first
    tenant also covers tenants no longer configured."""
    from enricher.metrics import Metrics
    from enricher.store.postgres import PostgresStore
    from enricher.wiring.build import SourceJob
    from enricher.wiring.replicas import Replicas

    jobs = [
        SourceJob(f"{t}/{s}", None, timedelta(seconds=60))  # type: ignore[arg-type]  # no poll here
        for t in ("contoso", "fabrikam", "northwind")
        for s in ("powerbi", "adf")
    ]
    stores = [PostgresStore(postgres_url) for _ in range(2)]
    pair = [Replicas(store, jobs, Metrics(), holder=h) for store, h in zip(stores, "AB", strict=True)]
    for _ in range(3):  # announce, then take a share, then settle
        for r in pair:
            r.keep()
    scopes = [r.scope() for r in pair]
    assert all(scopes), scopes  # 9 leases, ceil(9 / 2) each at most: both hold some flush lease
    a, b = scopes
    assert a is not None and b is not None
    assert a.tenants.isdisjoint(b.tenants) and a.tenants | b.tenants == {"contoso", "fabrikam", "northwind"}
    assert [s.strays for s in (a, b)].count(True) == 1 and (a if a.strays else b).covers("retired")
    assert sum(len(r.held) for r in pair) == len(jobs) + 3  # every poll and flush lease, once
    for store in stores:
        store.close()


def test_three_replicas_divide_the_work_and_survive_a_kill(
    sim: Simulator, receiver: Receiver, tmp_path: Path, postgres_url: str
) -> None:
    """Every replica holds leases; the flush holder is killed mid-cycle; the survivors take its
    leases over and every failure is notified under one key, none delivered twice but the one in flight."""
    replicas = {}
    for name in ("a", "b", "c"):
        config, port = replica_config(sim, tmp_path, name, postgres_url, receiver.url)
        log = (tmp_path / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [SCRIPT, "run", "--config", str(config)], stdout=log, stderr=log, cwd=tmp_path
        )
        replicas[name] = (proc, port)
    logs = lambda: "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in replicas)  # noqa: E731
    try:
        every = {f"poll:contoso/{s}" for s in ("powerbi", "fabric", "adf", "synapse")} | {"flush:contoso"}
        held = lambda: {n: set(ready(p).get("leases", ())) for n, (_, p) in replicas.items()}  # noqa: E731
        divided = lambda: (h := held()) and set().union(*h.values()) == every and all(h.values())  # noqa: E731
        assert wait_for(divided, 90), (held(), logs())  # every lease held, each replica has a share
        shares = held()
        assert sum(len(v) for v in shares.values()) == len(every), shares  # no lease held twice
        assert {len(v) for v in shares.values()} <= {1, 2}, shares  # ceil(5 / 3) at the most
        assert wait_for(lambda: len(receiver.requests) > 0, 90), logs()
        victim = next(n for n, leases in held().items() if "flush:contoso" in leases)
        survivors = [n for n in replicas if n != victim]
        os.kill(replicas[victim][0].pid, signal.SIGKILL)
        killed = time.monotonic()
        replicas[victim][0].wait(timeout=10)
        taken = lambda: (h := held()) and set().union(*(h[n] for n in survivors)) == every  # noqa: E731
        assert wait_for(taken, 120), (held(), logs())
        took = time.monotonic() - killed
        print(
            f"\ntakeover: all {len(every)} leases on the survivors {took:.1f} s after SIGKILL (interval {INTERVAL:g} s)"
        )
        assert wait_for(lambda: {str(n["code"]) for n in firing(receiver)} >= EXPECTED, 120), logs()
        time.sleep(3)  # a few more cycles: nothing new may appear
    finally:
        for proc, _ in replicas.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
    keys = Counter(r.headers["webhook-id"] for r in receiver.requests)
    repeated = {k: n for k, n in keys.items() if n > 1}
    print(f"notifications: {len(keys)} keys, {len(receiver.requests)} requests, repeated {repeated}")
    assert sum(n - 1 for n in repeated.values()) <= 1, repeated  # at most the row in flight at the kill
    per_incident = Counter(
        (str(n["code"]), str(n["incident_id"])) for n in {n["id"]: n for n in firing(receiver)}.values()
    )
    assert all(count == 1 for count in per_incident.values()), per_incident
    assert {code for code, _ in per_incident} >= EXPECTED


def test_a_database_restart_mid_cycle_loses_nothing(
    sim: Simulator, receiver: Receiver, tmp_path: Path
) -> None:
    """The server stops hard (its own cluster) while a daemon works and comes back on the same port:
    the daemon reconnects, and every failure is still notified under one key. (It caught the Power BI
    connector remembering refreshes of a poll whose transaction was rolled back: ``rewind``.)"""
    from tests.postgres import SKIP_REASON, Cluster, available

    if not available():
        pytest.skip(SKIP_REASON)
    cluster = Cluster()
    cluster.start()
    config, port = replica_config(sim, tmp_path, "a", cluster.create("restart"), receiver.url)
    proc = subprocess.Popen(
        [SCRIPT, "run", "--config", str(config)],
        stdout=(tmp_path / "a.log").open("ab"),
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    log = lambda: (tmp_path / "a.log").read_text()[-3000:]  # noqa: E731
    try:
        assert wait_for(lambda: len(receiver.requests) > 0, 90), log()
        cluster.stop("immediate")  # mid-cycle: polls and deliveries are under way
        time.sleep(2 * INTERVAL)  # a few polls fail meanwhile
        cluster.start()
        assert wait_for(lambda: {str(n["code"]) for n in firing(receiver)} >= EXPECTED, 120), (
            state(cluster.url("restart")),
            log(),
        )
        assert wait_for(lambda: ready(port).get("status") == "ready", 60), log()
        assert proc.poll() is None, log()  # it never gave up
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        cluster.destroy()
    keys = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert sum(n - 1 for n in keys.values()) <= 1, keys  # at most the one being sent at the stop
    per_incident = Counter(
        (str(n["code"]), str(n["incident_id"])) for n in {n["id"]: n for n in firing(receiver)}.values()
    )
    assert all(count == 1 for count in per_incident.values()), per_incident


def state(url: str) -> str:
    """The outbox and incidents as the database has them (for a failure's message)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, state, attempts, sending_at, last_error, body::jsonb->>'code' FROM outbox ORDER BY id"
        ).fetchall()
        rows += conn.execute("SELECT code, state, notified, count FROM incidents").fetchall()
    return "\n".join(map(str, rows))
