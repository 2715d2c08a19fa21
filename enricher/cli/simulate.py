"""``simulate``: run the bundled Azure simulator on its own (for ``once``/``run`` against it), or
with ``--post FORMAT URL`` post the reference alert bodies of one format to an ingest endpoint."""

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
    p.add_argument(
        "--post",
        nargs=2,
        metavar=("FORMAT", "URL"),
        help="instead of serving: post the bundled reference alerts of FORMAT (azure-monitor, alertmanager, "
        "grafana) to URL, e.g. http://127.0.0.1:9464/api/v1/ingest/alertmanager, and print each answer",
    )
    p.add_argument("--token", help="with --post: sent as 'Authorization: Bearer TOKEN'")
    p.add_argument("--ca-bundle", help="with --post: a CA file to trust for an https URL")
    p.set_defaults(func=run)


def post(fmt: str, url: str, token: str | None, ca_bundle: str | None) -> int:
    """Each payload once, in name order; 1 when any was not accepted (a 2xx), 0 otherwise."""
    from urllib.parse import urlsplit

    import requests

    from connectors.simulator.pushed import FORMATS, payloads

    if fmt not in FORMATS:
        raise ConfigError(f"--post: format {fmt!r} is not one of {', '.join(FORMATS)}")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(f"--post: {url!r} is not an http(s) URL")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    failed = 0
    for name, body in payloads(fmt):
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=30, verify=ca_bundle or True)
        except requests.RequestException as exc:
            print(f"{name}: not sent ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
            failed += 1
            continue
        print(f"{name}: HTTP {answer.status_code} {answer.text.strip()[:300]}")
        failed += not 200 <= answer.status_code < 300
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.post:
        return post(args.post[0], args.post[1], args.token, args.ca_bundle)
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
