"""``run``, ``once``, ``demo`` and ``health``: the service commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from enricher.core.wording import counted

# connectors, sinks and the config machinery load inside the commands that use them, so the other
# commands start quickly


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="run the daemon until SIGTERM / Ctrl-C",
        description="Poll every configured source on its interval, track incidents and deliver "
        "notifications, serving /healthz, /readyz, /metrics and the dashboard. SIGHUP (or an "
        "authorised POST /-/reload) re-reads the config: a file check-config would refuse is refused "
        "with one log line and the running config stays.",
    )
    run.add_argument(
        "--config", required=True, metavar="FILE", help="the YAML config (see config/example.yaml)"
    )
    run.set_defaults(func=cmd_run)

    once = sub.add_parser(
        "once",
        help="one cycle: poll every source, notify, deliver, exit",
        description="Runs one full cycle and exits: 0 if every source was polled without "
        "problems and every notification was delivered, 1 if a source failed (its problems are "
        "printed) or notifications are left in the outbox (how many per sink is printed).",
    )
    once.add_argument("--config", required=True, metavar="FILE")
    once.set_defaults(func=cmd_once)

    demo = sub.add_parser(
        "demo",
        help="the whole product against the bundled Azure simulator",
        description="Starts the bundled HTTPS simulator of the Azure APIs (scenario 'demo'), a "
        "temporary SQLite store and a console sink, and runs cycles until Ctrl-C.",
    )
    demo.add_argument("--cycles", type=int, metavar="N", help="run N cycles and exit 0")
    demo.add_argument(
        "--json",
        action="store_true",
        help="print each notification as one JSON line (progress goes to stderr)",
    )
    demo.add_argument(
        "--speed", type=float, default=300.0, help="simulated seconds per real second (default 300)"
    )
    demo.add_argument("--interval", type=float, default=2.0, help="real seconds between cycles (default 2)")
    demo.add_argument(
        "--listen",
        default="127.0.0.1:0",
        help="address of the health endpoints and dashboard (default: a free port on 127.0.0.1)",
    )
    demo.set_defaults(func=cmd_demo)

    health = sub.add_parser(
        "health",
        help="exit 0 if a running daemon answers (for HEALTHCHECK)",
        description="Asks a running daemon's /healthz (or /readyz with --ready). Exit 0 when it "
        "answers 200, 1 otherwise.",
    )
    where = health.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="FILE", help="read the health address from this config")
    where.add_argument(
        "--url", help="base URL (default: $AADSTS_ENRICHER_HEALTH_URL, else http://127.0.0.1:9464)"
    )
    health.add_argument("--ready", action="store_true", help="check /readyz (a poll succeeded recently)")
    health.set_defaults(func=cmd_health)


def _service(path: str):  # type: ignore[no-untyped-def]
    from enricher import logs
    from enricher.store.lock import lock_state
    from enricher.wiring.build import secrets_of
    from enricher.wiring.daemon import Service
    from enricher.wiring.preflight import load_checked

    config = load_checked(path)
    logs.setup(config.log.level, config.log.format, secrets_of(config))
    # a second daemon on this SQLite state refuses here; PostgreSQL replicas share work by leases
    held = lock_state(Path(config.state.path)) if config.state.url is None else None
    service = Service(config, Path(path).resolve().parent)
    service.state_lock = held  # type: ignore[attr-defined]  # held for the life of the process
    return service


def cmd_run(args: argparse.Namespace) -> int:
    from enricher.wiring.process import Daemon

    code = Daemon(_service(args.config), Path(args.config).resolve()).run()
    _exit_without_stragglers(code, grace=2.0)
    return code


def _exit_without_stragglers(code: int, grace: float) -> None:
    """Exit now if a worker thread is still busy ``grace`` seconds after the daemon stopped.

    Every network wait ends on stop (the HTTP watchdog, the token transport, ``event.wait``), so
    this is the last line, not the mechanism: a peer that defeats all of them must not keep the
    process alive, because Python joins pool threads at exit and ``docker stop`` would end in a
    kill. Nothing is lost by leaving: each poll and each delivery mark is its own transaction.
    """
    import logging
    import threading
    import time

    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    busy = [
        t.name
        for t in threading.enumerate()
        if t.is_alive() and not t.daemon and t is not threading.main_thread()
    ]
    if busy:
        logging.getLogger("aadsts_enricher.daemon").warning(
            "exiting with threads still busy after the stop", extra={"threads": busy}
        )
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)


def cmd_once(args: argparse.Namespace) -> int:
    service = _service(args.config)
    try:
        report, delivery = service.cycle(wait=False)
        left = {sink: b.depth for sink, b in service.store.backlog().items() if b.depth}
    finally:
        service.close()
    for poll in report.polls:
        state = "ok" if poll.ok else "PROBLEM"
        print(
            f"{poll.source:<28} {state:<8} {counted(poll.records, 'run')}, {poll.new} new, "
            f"{counted(poll.failures, 'sign-in failure')}"
        )
        for problem in poll.errors:
            print(f"    {problem}")
        for note in poll.notes:  # not errors: data already read stands (e.g. a refused history)
            print(f"    note: {note}")
    print(
        f"{counted(len(report.notifications), 'new notification')}; delivered {delivery.delivered}, "
        f"retrying {delivery.retried}, dead {delivery.dead}"
    )
    if left:  # a destination that failed or asked to wait: the next run or once sends these
        per_sink = ", ".join(f"{sink} {n}" for sink, n in sorted(left.items()))
        print(f"left in the outbox: {counted(sum(left.values()), 'notification')} ({per_sink})")
    return 0 if report.ok and not delivery.dead and not left else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from enricher import logs
    from enricher.wiring.demo import run_demo

    logs.setup("warning", "text")
    return run_demo(
        args.cycles,
        json_lines=args.json,
        speed=args.speed,
        interval=args.interval,
        colour=bool(args.colour),
        listen=args.listen,
    )


def cmd_health(args: argparse.Namespace) -> int:
    base = args.url or os.environ.get("AADSTS_ENRICHER_HEALTH_URL") or "http://127.0.0.1:9464"
    if args.config:
        from enricher.config_load import load_config

        listen = load_config(args.config).health.listen
        host, _, port = listen.rpartition(":")
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '[::]') else host}:{port}"
    url = base.rstrip("/") + ("/readyz" if args.ready else "/healthz")
    import urllib.error  # here: http.client and ssl cost 10 ms of every other command's start-up
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body = json.loads(response.read() or b"{}")
            print(f"{url}: {response.status} {body.get('status', '')}")
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{url}: {exc.code}", file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"{url}: unreachable ({getattr(exc, 'reason', exc)})", file=sys.stderr)
    return 1
