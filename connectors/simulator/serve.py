"""``serve()``: run a simulator in the foreground until SIGINT or SIGTERM.

The signal handlers only set a flag; the main thread notices it within half a second and stops
the simulator cleanly. The printed credentials belong to a fake tenant.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

from connectors.simulator.scenario import Scenario, load_scenario
from connectors.simulator.simulator import Simulator, SimulatorStartError

_FLAGS = ("admin_api", "ca_policy_read", "disabled", "managed_identity")


def describe(sim: Simulator, out: TextIO) -> None:
    """Print what a client needs: URLs, the CA to trust, the tenants and their credentials."""
    scenario = sim.scenario
    print(
        f"Azure simulator: scenario {scenario.name!r}, seed {scenario.seed}, speed {sim.clock.speed:g}x",
        file=out,
    )
    print(f"  simulated now   {sim.clock.now().isoformat()}", file=out)
    for name, url in sim.endpoints.items():
        print(f"  {name:<15} {url}", file=out)
    print(f"  CA certificate  {sim.ca_path}", file=out)
    print(
        f"  MSI header      IDENTITY_ENDPOINT={sim.endpoints['msi']} IDENTITY_HEADER={sim.msi_header}",
        file=out,
    )
    for tenant in scenario.tenants:
        print(f"tenant {tenant.domain} ({tenant.id})", file=out)
        for app in tenant.apps:
            parts = [f"client id {app.client_id}"]
            parts += [f"secret {s.value} (ends {s.end})" for s in app.secrets]
            parts += [f"federated {f.issuer} {f.subject}" for f in app.federated]
            parts += [flag for flag in _FLAGS if getattr(app, flag)]
            if app.fail is not None:
                parts.append(
                    f"token requests fail with AADSTS{app.fail.code} from {app.fail.from_ or 'the start'}"
                )
            print(f"  app {app.name}: {'; '.join(parts)}", file=out)
    out.flush()


def starting_at(scenario: str | Path | Scenario, start: datetime) -> Scenario:
    """The scenario with its clock starting at ``start``: offsets like ``from: "-2h"`` move along.

    A daemon in ``run`` or ``once`` mode reads the real clock, so the simulator it talks to must live
    at the real time too (start now, speed 1); only the demo shares the simulator's fast clock.
    """
    loaded = load_scenario(scenario)
    return loaded.model_copy(update={"clock": loaded.clock.model_copy(update={"start": start})})


@contextlib.contextmanager
def _claim(state_dir: Path) -> Iterator[None]:
    """Own ``state_dir`` while serving: a second simulator there would overwrite the CA file that
    clients of the first one trust, and every later connection to the first would fail its
    certificate check. The lock (``flock``) goes away with the process, however it ends."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "simulator.lock").open("a+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise SimulatorStartError(
            f"another simulator (pid {owner}) is serving from {state_dir}", "state_dir"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def serve(
    scenario: str | Path | Scenario = "demo",
    port: int = 8443,
    speed: float | None = None,
    host: str = "127.0.0.1",
    *,
    start: datetime | None = None,
    state_dir: str | Path | None = None,
    out: TextIO | None = None,
) -> int:
    stop = threading.Event()
    if start is not None:
        scenario = starting_at(scenario, start)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Outside the main thread signals cannot be caught; the caller stops us another way.
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        with (
            _claim(Path(state_dir)) if state_dir is not None else contextlib.nullcontext(),
            Simulator(scenario=scenario, port=port, speed=speed, host=host, state_dir=state_dir) as sim,
        ):
            describe(sim, out or sys.stdout)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
