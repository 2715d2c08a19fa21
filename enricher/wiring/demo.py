"""``aadsts-enricher demo``: the whole product on the embedded default, with nothing to set up.

The bundled simulator serves a fake tenant (scenario ``demo``) over HTTPS on loopback, a throwaway
SQLite store keeps state, and notifications go to the console. The daemon's clock is the
simulator's, which runs faster than real time, so a few cycles cover an hour of refreshes and
pipeline runs: every failure of the scenario shows up once, and the transient one resolves.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from connectors.simulator import Simulator
from enricher import config as cfg
from enricher.core.wording import counted
from enricher.wiring.daemon import Service


def demo_config(
    sim: Simulator, data_dir: Path, *, json_lines: bool, colour: bool, listen: str = "127.0.0.1:0"
) -> cfg.Config:
    return cfg.Config.model_validate(
        demo_config_data(sim, data_dir, json_lines=json_lines, colour=colour, listen=listen)
    )


def demo_config_data(
    sim: Simulator,
    data_dir: Path,
    *,
    json_lines: bool = False,
    colour: bool = False,
    listen: str = "127.0.0.1:0",
) -> dict[str, Any]:
    """The demo's configuration as plain data (tests write it to a file for a real daemon process)."""
    tenant = sim.scenario.tenants[0]
    app = next(a for a in tenant.apps if a.admin_api and a.secrets)
    ep = sim.endpoints
    raw: dict[str, Any] = {
        "tenants": [
            {
                "name": "contoso",
                "tenant_id": tenant.id,
                "endpoints": {
                    k: ep[k]
                    for k in ("authority", "powerbi", "fabric", "arm", "graph", "synapse", "log_analytics")
                },
                "ca_bundle": str(sim.ca_path),
                "credential": {
                    "type": "client_secret",
                    "client_id": app.client_id,
                    "client_secret": app.secrets[0].value,
                },
                "signin_lookup": {"enabled": True},
                "sources": [
                    {"type": "powerbi", "mode": "admin", "interval": "10s"},
                    {"type": "fabric", "interval": "10s"},
                    {"type": "adf", "interval": "10s", "lookback": "6h"},
                    {
                        "type": "synapse",
                        "interval": "10s",
                        "lookback": "6h",
                        # where the workspace lives: only used for Synapse Studio links
                        "workspaces": [{"name": ws.name, **_synapse_home(tenant)} for ws in tenant.synapse],
                    },
                ],
            }
        ],
        "sinks": [
            {
                "name": "console",
                "type": "console",
                "format": "json" if json_lines else "text",
                "color": "always" if colour else "never",
            }
        ],
        "incidents": {"group_wait": "0s", "group_interval": "0s", "repeat_interval": "12h"},
        "health": {"listen": listen},
        "state": {"path": str(data_dir)},
    }
    return raw


def run_demo(
    cycles: int | None,
    *,
    json_lines: bool,
    speed: float,
    interval: float,
    colour: bool,
    listen: str = "127.0.0.1:0",
    out: TextIO = sys.stdout,
) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="aadsts-demo-"))
    sim = Simulator(scenario="demo", port=0, speed=speed)
    sim.start()
    service = None
    try:
        config = demo_config(sim, data_dir, json_lines=json_lines, colour=colour, listen=listen)
        service = Service(config, Path.cwd(), clock=sim.clock.now)
        stop = service.stop
        for sig in (signal.SIGTERM, signal.SIGINT):  # PID 1 in a container ignores SIGTERM without a handler
            with contextlib.suppress(ValueError):  # not the main thread (tests): Ctrl-C still works
                signal.signal(sig, lambda signum, frame: stop.set())
        server = service.health_server(setting="--listen").start()
        note = sys.stderr if json_lines else out
        print(
            f"aadsts-enricher demo: simulated Azure tenant at {sim.base_url} (scenario 'demo', {speed:g}x time)",
            file=note,
        )
        print(f"dashboard and metrics: {server.url}/  (Ctrl-C to stop)\n", file=note)
        number = 0
        while cycles is None or number < cycles:
            number += 1
            report, delivery = service.cycle(sim.clock.now())
            runs = sum(p.records for p in report.polls)
            new = sum(p.new for p in report.polls)
            failures = sum(p.failures for p in report.polls)
            errors = [e for p in report.polls for e in p.errors]
            print(
                f"-- cycle {number} | simulated {sim.clock.now():%Y-%m-%d %H:%M} UTC | "
                f"{counted(len(report.polls), 'source')}, {counted(runs, 'run')} read, {new} new, "
                f"{counted(failures, 'sign-in failure')} | {counted(delivery.delivered, 'notification')}"
                + (f" | {counted(len(errors), 'poll problem')}" if errors else ""),
                file=note,
                flush=True,
            )
            if cycles is not None and number >= cycles:
                break
            if service.stop.wait(interval):
                break
        server.stop()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if service is not None:
            service.close()
        sim.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _synapse_home(tenant: Any) -> dict[str, str]:
    """The scenario's first subscription and resource group (the simulator's Synapse API does not
    need them; the Synapse Studio links do)."""
    for sub in tenant.subscriptions:
        if sub.id and sub.resource_groups:
            return {"subscription_id": sub.id, "resource_group": sub.resource_groups[0].name}
    return {}
