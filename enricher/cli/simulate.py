"""``simulate``: run the bundled Azure simulator on its own (for ``once``/``run`` against it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve the bundled HTTPS simulator of the Azure APIs",
        description="Serves a fake tenant (Entra token endpoint, Power BI, Fabric, ARM/ADF, Synapse, "
        "Graph) over HTTPS on 127.0.0.1 and prints the base URLs, the CA file to trust and "
        "the scenario's credentials. Ctrl-C stops it.",
    )
    p.add_argument("--scenario", default="demo", help="a bundled scenario (demo, scale) or a YAML file")
    p.add_argument(
        "--port", type=int, default=8443, help="port on 127.0.0.1 (default 8443; 0 picks a free one)"
    )
    p.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connectors.simulator import serve

    return serve(args.scenario, args.port, args.speed, args.host)
