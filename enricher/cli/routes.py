"""``routes test``: for a set of labels, which routes, sinks, silences, windows and inhibitions apply."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from enricher.errors import ConfigError

if TYPE_CHECKING:  # the config machinery loads only when the command runs (start-up time)
    from enricher.config import Config
    from enricher.core.routing import Silence
    from enricher.core.routing_trace import Trace

EPILOG = """\
Labels: severity, category, code, source, tenant, workspace, item; a label left out is empty.

The config is validated as a model (check-config also opens the files it names). Exit codes: 0
the answer was shown; 1 --expect named other sinks than the routes pick; 2 a bad config, label or
option."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "routes",
        help="show where a notification with given labels would go",
        description="Tools for the routing config (like amtool config routes).",
    )
    s = p.add_subparsers(dest="routes_command", metavar="ACTION", required=True)
    t = s.add_parser(
        "test",
        help="routes, sinks, silences, maintenance windows and inhibition rules for a label set",
        description="Shows, for a notification with these labels, the routes that match and the "
        "sinks they pick, the silences and maintenance windows that hold it, and the inhibition "
        "rules it falls under, as the daemon's flush would decide them.",
        epilog=EPILOG,
    )
    t.add_argument("--config", required=True, metavar="FILE")
    t.add_argument("labels", nargs="*", metavar="LABEL=VALUE")
    t.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    t.add_argument("--at", metavar="TIME", help="ISO 8601 time to decide at (default: now)")
    t.add_argument(
        "--expect",
        metavar="SINKS",
        help="comma-separated sinks the routes must pick (exit 1 otherwise), for CI checks of a config",
    )
    t.add_argument(
        "--with-state",
        action="store_true",
        help="also read the stored silences and the open incidents (does inhibition hold it now?)",
    )
    t.set_defaults(func=cmd_test)


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``LABEL=VALUE`` pairs over the notification labels; a code may carry the AADSTS prefix."""
    from enricher.config import LABEL_NAMES

    labels: dict[str, str] = {}
    for pair in pairs:
        label, sep, value = pair.partition("=")
        label = label.strip()
        if not sep:
            raise ConfigError(f"{pair!r}: expected LABEL=VALUE (e.g. severity=critical)")
        if label not in LABEL_NAMES:
            raise ConfigError(f"{pair!r}: no label {label!r} (labels: {', '.join(LABEL_NAMES)})")
        if label in labels:
            raise ConfigError(f"{pair!r}: {label} given twice")
        value = value.strip()
        labels[label] = value[6:] if label == "code" and value.lower().startswith("aadsts") else value
    return labels


def cmd_test(args: argparse.Namespace) -> int:
    from enricher.cli.common import print_json
    from enricher.config import parse_timestamp
    from enricher.config_load import load_config
    from enricher.core.routing_trace import trace

    labels = parse_labels(args.labels)
    try:
        now = parse_timestamp(args.at) if args.at else datetime.now(UTC)
    except ValueError as exc:
        raise ConfigError(f"--at: {exc}") from exc
    config = load_config(args.config)  # the model only: routing needs no certificate or CA file
    expected = [s.strip() for s in args.expect.split(",") if s.strip()] if args.expect else None
    known = [s.name for s in config.sinks]
    for name in expected or ():
        if name not in known:
            raise ConfigError(f"--expect: no sink named {name!r} (known: {', '.join(known)})")
    stored, open_labels = _state(config, now) if args.with_state else ([], None)
    result = trace(labels, config, now, stored, open_labels)
    if args.json:
        print_json(result.as_dict())
    else:
        print("\n".join(describe(result, config)))
    if expected is not None and sorted(expected) != sorted(result.sinks):
        if not args.json:
            print(f"expected {', '.join(expected) or 'no sinks'}: routes pick {', '.join(result.sinks)}")
        return 1
    return 0


def _state(config: Config, now: datetime) -> tuple[list[Silence], list[dict[str, str]]]:
    from enricher.wiring.build import open_store, state_db

    if config.state.url is None and not state_db(config).is_file():  # never create one to read it
        raise ConfigError(f"--with-state: no state database at {state_db(config)}")
    store = open_store(config)
    try:
        return store.silences(now), [i.labels for i in store.incidents(state="open", limit=100_000)]
    finally:
        store.close()


def describe(result: Trace, config: Config) -> list[str]:
    """The answer as lines a person reads top to bottom, ending with the verdict."""
    shown = " ".join(f"{k}={v}" for k, v in result.labels.items()) or "(no labels)"
    lines = [f"labels: {shown}"]
    for r in result.routes:
        match = ", ".join(f"{k}={'|'.join(v)}" for k, v in r.match.items()) or "everything"
        more = " (continue)" if r.continue_ else ""
        lines.append(f"route {r.index}: {match} -> {', '.join(r.sinks)}{more}")
    if result.fallback:
        lines.append("no route matches: the unrouted sinks (default_sinks, else every sink)")
    lines.append(f"sinks: {', '.join(result.sinks)}")
    if result.no_resolved:
        lines.append(f"not told of recovery (send_resolved: false): {', '.join(result.no_resolved)}")
    for s in result.silences:
        lines.append(
            f"silenced by {s.id} until {s.ends_at.isoformat()}{': ' + s.comment if s.comment else ''}"
        )
    for w in result.maintenance:
        lines.append(f"maintenance {w.name}: matches, {'open now' if w.active else 'not open now'}")
    for i in result.inhibit_rules:
        rule = config.inhibit_rules[i.index]
        if i.target:
            equal = f" with the same {', '.join(rule.equal)}" if rule.equal else ""
            now = "" if i.held_now is None else (": held now" if i.held_now else ": nothing holds it now")
            lines.append(
                f"inhibit {i.index}: held while an incident matching {', '.join(rule.source_matchers)}"
                f" is open{equal}{now}"
            )
        if i.source:
            lines.append(f"inhibit {i.index}: while open, holds {', '.join(rule.target_matchers)}")
    verdict = {
        None: f"sent now to {', '.join(result.sinks)}",
        "silence": "held by a silence",
        "maintenance": "held by a maintenance window",
        "inhibited": "held by an inhibition rule",
    }[result.held]
    lines.append(f"verdict: {verdict}")
    return lines
