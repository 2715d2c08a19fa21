"""``aadsts-enricher test-sink NAME --config FILE``: send one clearly marked test notification.

Builds only the named sink (so a broken Slack URL does not stop a test of the e-mail sink), sends
a ``kind="test"`` notification whose title starts with ``[TEST] aadsts-enricher`` and prints what
the destination answered. Exit 0 delivered, 1 not delivered, 2 config problem (via ConfigError).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from enricher.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "test-sink",
        help="send a test notification to one configured sink",
        description=(
            "Build the sink NAME from the config file, send it a clearly marked test notification "
            "('[TEST] aadsts-enricher ...') and print the destination's answer. Exit 0 when it was "
            "delivered, 1 when it was not, 2 when the config is wrong."
        ),
    )
    p.add_argument("name", metavar="NAME", help="the sink's name in the config file")
    p.add_argument("--config", required=True, metavar="FILE", help="the YAML config file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from enricher.config_load import load_config  # here, not at start-up: the config and every sink
    from enricher.sinks.registry import build_sink
    from enricher.sinks.sample import make_test_notification

    path = Path(args.config)
    config = load_config(path)  # not every sink: a broken one must not stop a test of another
    chosen = next((s for s in config.sinks if s.name == args.name), None)
    if chosen is None:
        known = ", ".join(s.name for s in config.sinks)
        raise ConfigError(f"{path}: no sink named {args.name!r} (known: {known})")
    sink = build_sink(chosen, path.resolve().parent)
    try:
        result = sink.send(make_test_notification(datetime.now(UTC)))
    finally:
        sink.close()
    if result.ok:
        state = "delivered"
    elif result.retryable:
        later = f", retry after {result.retry_after:g} s" if result.retry_after is not None else ""
        state = f"NOT delivered (temporary{later})"
    else:
        state = "NOT delivered (permanent)"
    print(f"{chosen.name} ({chosen.type}): {state}: {result.detail or 'no detail'}")
    return 0 if result.ok else 1
