"""``simulate``: run the bundled Azure simulator on its own (for ``once``/``run`` against it)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from enricher.errors import ConfigError, ListenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve the bundled HTTPS simulator of the Azure APIs",
        description="Serves a fake tenant (Entra token endpoint, Power BI, Fabric, ARM/ADF, Synapse, Graph) over "
        "HTTPS on 127.0.0.1 and prints the base URLs, the CA file to trust and the scenario's credentials. "
        "By default its clock starts now and runs at real speed, so a daemon in 'run' or 'once' mode (which "
        "reads the real clock) sees its runs in the right time windows. Ctrl-C stops it.",
    )
    p.add_argument(
        "--scenario", default="demo", help="a bundled scenario (demo, scale, admin_only) or a YAML file"
    )
    p.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1; faster only suits clients that read the "
        "simulator's clock, like the demo)",
    )
    p.add_argument(
        "--start",
        default="now",
        help="simulated start time: 'now' (default), 'scenario' (the scenario's own) or an ISO time",
    )
    p.add_argument(
        "--state-dir",
        default="./.data/simulator",
        help="where the CA certificate and keys are written (default ./.data/simulator)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connectors.simulator import SimulatorStartError, serve
    from connectors.simulator.scenario import ScenarioError

    if args.start == "now":
        start: datetime | None = datetime.now(UTC).replace(microsecond=0)
    elif args.start == "scenario":
        start = None
    else:
        try:
            start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"--start: {args.start!r} is not 'now', 'scenario' or an ISO time") from exc
        if start.tzinfo is None:
            raise ConfigError("--start: give a time zone, e.g. 2025-04-02T06:00:00Z")
    try:
        return serve(args.scenario, args.port, args.speed, args.host, start=start, state_dir=args.state_dir)
    except ScenarioError as exc:  # one line, as every input error
        first, *rest = str(exc).splitlines()
        raise ConfigError(
            f"--scenario: {' '.join([first, '; '.join(r.strip() for r in rest)]).strip()}"
        ) from None
    except SimulatorStartError as exc:
        hint = (
            "--port 0 picks a free port" if exc.what == "port" else "stop it, or give it its own --state-dir"
        )
        raise ListenError(f"simulate: {exc} ({hint})") from None
