"""Benchmark: polling the ``scale`` scenario (10,000 workspaces, 100,000 datasets, 2,000 pipelines).

Run: ``make bench-poll`` (or ``.venv/bin/python bench/poll.py``). The simulator runs in its own
process with 20 ms of latency per request; the connectors use 8 concurrent requests. Prints, for
our strategy (Power BI admin refreshables + history only where needed, ADF run queries per
factory) the requests and seconds of the first full cycle and of a steady-state cycle, and for the
naive strategy (list every workspace's datasets, read every dataset's refresh history) the same,
measured on a sample of workspaces and scaled to the whole tenant (``--naive-full`` measures all
of it, about five minutes). Peak RSS is this process's: the poller, not the simulator.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.adf import ADFConnector, ADFOptions
from connectors.auth import CredentialSpec, TokenProvider, make_credential
from connectors.base import Identity, NameFilter
from connectors.clouds import PUBLIC, Endpoints
from connectors.http import AzureHttp
from connectors.powerbi import PowerBIConnector, PowerBIOptions
from connectors.simulator import load_scenario

SERVER = """
import sys, threading
from connectors.simulator import Simulator
sim = Simulator(scenario="scale", port=0, speed=1.0, latency_ms=int(sys.argv[1]), state_dir=sys.argv[2])
sim.start()
print(sim.base_url, flush=True)
sys.stdin.read()
sim.stop()
"""


def start_simulator(latency_ms: int, state_dir: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(latency_ms), state_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def http_client(
    base: str, ca: str, tenant_id: str, client_id: str, secret: str, workers: int
) -> tuple[AzureHttp, Endpoints]:
    ep = PUBLIC.with_overrides(
        authority=base,
        powerbi=f"{base}/powerbi/v1.0/myorg",
        fabric=f"{base}/fabric/v1",
        arm=f"{base}/arm",
        graph=f"{base}/graph",
        synapse=f"{base}/synapse/{{workspace}}",
    )
    spec = CredentialSpec("client_secret", tenant_id, client_id, secret, authority=base, verify=ca)
    return AzureHttp(TokenProvider(make_credential(spec)), verify=ca, per_host=workers), ep


def cycle(connectors: list, http: AzureHttp) -> tuple[int, float, int]:  # type: ignore[type-arg]
    before = sum(http.requests.values())
    start = time.perf_counter()
    records = 0
    for c in connectors:
        poll = c.poll(datetime.now(UTC), c.cursor)
        c.cursor = poll.cursor
        records += len(poll.records)
        if poll.errors:
            print(f"   ({c.name}: {len(poll.errors)} problems, first: {poll.errors[0][:120]})")
    return sum(http.requests.values()) - before, time.perf_counter() - start, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--naive-sample", type=int, default=300, help="workspaces measured for the naive strategy"
    )
    parser.add_argument("--naive-full", action="store_true")
    args = parser.parse_args()
    scenario = load_scenario("scale")
    tenant = scenario.tenants[0]
    app = tenant.apps[0]
    state = tempfile.mkdtemp(prefix="bench-poll-")
    proc, base = start_simulator(args.latency_ms, state)
    try:
        http, ep = http_client(
            base, f"{state}/simulator-ca.pem", tenant.id, app.client_id, app.secrets[0].value, args.workers
        )
        who = Identity("scale", tenant.id, app.client_id)
        ours = [
            PowerBIConnector(
                http, ep, who, PowerBIOptions(mode="admin", dataflows=False, workers=args.workers)
            ),
            ADFConnector(http, ep, who, ADFOptions()),
        ]
        for c in ours:
            c.cursor = {}  # type: ignore[attr-defined]
        print(
            f"scale scenario: {args.latency_ms} ms latency per request, {args.workers} concurrent requests\n"
        )
        print(f"{'strategy':<44}{'requests':>10}{'seconds':>10}{'runs read':>11}")
        first = cycle(ours, http)
        print(f"{'ours, first full cycle':<44}{first[0]:>10,}{first[1]:>10.1f}{first[2]:>11,}")
        steady = cycle(ours, http)
        print(f"{'ours, steady state (next cycle)':<44}{steady[0]:>10,}{steady[1]:>10.1f}{steady[2]:>11,}")
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        naive_http, _ = http_client(
            base, f"{state}/simulator-ca.pem", tenant.id, app.client_id, app.secrets[0].value, args.workers
        )
        total_ws = 10_000
        sample = args.naive_sample if not args.naive_full else total_ws
        # the sample through the connector's own workspace filter: one regular expression
        names = "|".join(f"{i:05d}" for i in range(sample))
        wanted = NameFilter((f"re:^Workspace ({names})$",))
        naive = PowerBIConnector(
            naive_http,
            ep,
            who,
            PowerBIOptions(
                mode="workspace", workspaces=wanted, dataflows=False, history_top=60, workers=args.workers
            ),
        )
        naive.cursor = {}  # type: ignore[attr-defined]
        requests, seconds, records = cycle([naive], naive_http)
        listing = -(-total_ws // 1000)  # group pages of 1000, listed in full even for the sample
        scale = total_ws / sample
        n_req = listing + (requests - listing) * scale
        n_sec = seconds * (n_req / requests)
        label = "naive (workspaces -> datasets -> history)" + (
            "" if args.naive_full else f" [{sample} ws x{scale:.0f}]"
        )
        print(f"{label:<44}{n_req:>10,.0f}{n_sec:>10.1f}{records * scale:>11,.0f}")
        print(
            f"\nsteady state: {steady[0] / n_req:.4%} of the naive requests per cycle "
            f"({n_req / max(1, steady[0]):,.0f}x fewer); first cycle {n_sec / first[1]:.1f}x faster"
        )
        print(f"peak RSS of the poller: {rss_ours:.0f} MB")
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
