"""``check-config``: validate a config and show what it would run (never its secrets)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from enricher.core.wording import counted

if TYPE_CHECKING:  # the config machinery loads only when the command runs (start-up time)
    from enricher import config as cfg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate a config file and print what would run",
        description="Validates the config (exit 2 with a one-line error naming the bad setting) "
        "and prints the tenants, sources, sinks, routes, silences, windows and inhibition rules.",
    )
    p.add_argument("--config", required=True, metavar="FILE")
    p.set_defaults(func=run)


def summary(config: cfg.Config) -> list[str]:
    lines = []
    for t in config.tenants:
        lines.append(
            f"tenant {t.name} ({t.tenant_id}, {t.cloud} cloud, credential {t.credential.type}"
            f"{', client ' + t.credential.client_id if t.credential.client_id else ''})"
        )
        for s in t.sources:
            detail = {
                "powerbi": lambda s: f"mode {s.mode}",
                "fabric": lambda s: f"items {', '.join(s.item_types)}",
                "adf": lambda s: (
                    counted(len(s.factories), "factory", "factories") if s.factories else "all factories"
                ),
                "synapse": lambda s: counted(len(s.workspaces), "workspace"),
            }[s.type](s)
            state = "" if s.enabled else " (disabled)"
            named = s.type if s.source_name == s.type else f"{s.type} {s.source_name!r}"
            lines.append(f"  source {named:<8} every {_dur(s.interval)}, {detail}{state}")
    for sink in config.sinks:
        lines.append(
            f"sink {sink.name} ({sink.type}){'' if sink.send_resolved else ', no resolved messages'}"
        )
    for i, r in enumerate(config.routes):
        match = (
            ", ".join(f"{k}={'|'.join(v)}" for k, v in r.match.model_dump(exclude_none=True).items())
            or "everything"
        )
        lines.append(f"route {i}: {match} -> {', '.join(r.sinks)}{' (continue)' if r.continue_ else ''}")
    lines.append(f"unrouted notifications -> {', '.join(config.fallback_sinks)}")
    inc = config.incidents
    lines.append(
        f"incidents grouped by {', '.join(inc.group_by)}; wait {_dur(inc.group_wait)}, interval "
        f"{_dur(inc.group_interval)}, reminders every {_dur(inc.repeat_interval)}"
    )
    lines += [
        f"silence until {s.ends_at.isoformat()}: {s.match.model_dump(exclude_none=True)}"
        for s in config.silences
    ]
    lines += [
        f"maintenance {w.name}: {','.join(w.weekdays)} {w.start}-{w.end} {w.timezone}"
        for w in config.maintenance
    ]
    lines += [
        f"inhibit {i}: {', '.join(r.target_matchers)} held while open {', '.join(r.source_matchers)}"
        + (f" (equal {', '.join(r.equal)})" if r.equal else "")
        for i, r in enumerate(config.inhibit_rules)
    ]
    from enricher.wiring.build import state_where

    lines.append(f"state in {state_where(config)}; health on {config.health.listen}")
    if config.knowledge_dir:
        lines.append(f"knowledge overrides from {config.knowledge_dir}")
    return lines


def _dur(value: object) -> str:
    seconds = int(value.total_seconds())  # type: ignore[attr-defined]
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def run(args: argparse.Namespace) -> int:
    from enricher.wiring.preflight import load_checked

    config = load_checked(args.config)
    print(f"{args.config}: valid")
    print("\n".join(summary(config)))
    return 0
