"""Why a notification goes where it goes: routes, silences, windows and inhibitions for a label set.

``aadsts-enricher routes test`` (like ``amtool config routes test``) answers "who hears about a
critical 53003 in Finance?" before it happens. :func:`trace` walks the same decisions the flush
makes (``routing.route``, ``routing.muted``, ``inhibition.inhibiting``) and keeps each step, so the
answer is what the daemon does, not a second reading of the config that could drift from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from enricher.config import Config, Match
from enricher.core.inhibition import all_hold, inhibiting
from enricher.core.routing import Silence, in_window, matches, route

Held = Literal["silence", "maintenance", "inhibited"]


@dataclass(frozen=True, slots=True)
class RouteStep:
    index: int
    match: dict[str, Any]
    sinks: tuple[str, ...]
    continue_: bool


@dataclass(frozen=True, slots=True)
class WindowStep:
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class InhibitStep:
    index: int
    #: the label set matches the rule's target side: such notifications can be held by it
    target: bool
    #: the label set matches the source side: an open incident like it holds others back
    source: bool
    #: an open incident holds it now (only known when open incidents were given)
    held_now: bool | None


@dataclass(frozen=True, slots=True)
class Trace:
    labels: dict[str, str]
    routes: tuple[RouteStep, ...]
    sinks: tuple[str, ...]
    fallback: bool
    #: of ``sinks``, those configured with ``send_resolved: false`` (told of firing, not of recovery)
    no_resolved: tuple[str, ...]
    silences: tuple[Silence, ...]
    maintenance: tuple[WindowStep, ...]
    inhibit_rules: tuple[InhibitStep, ...]
    held: Held | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "routes": [
                {"index": r.index, "match": r.match, "sinks": list(r.sinks), "continue": r.continue_}
                for r in self.routes
            ],
            "sinks": list(self.sinks),
            "fallback": self.fallback,
            "no_resolved": list(self.no_resolved),
            "silences": [
                {"id": s.id, "match": _shown(s.match), "ends_at": s.ends_at.isoformat(), "comment": s.comment}
                for s in self.silences
            ],
            "maintenance": [{"name": w.name, "active": w.active} for w in self.maintenance],
            "inhibit_rules": [
                {"index": i.index, "target": i.target, "source": i.source, "held_now": i.held_now}
                for i in self.inhibit_rules
            ],
            "held": self.held,
        }


def trace(
    labels: Mapping[str, str],
    config: Config,
    now: datetime,
    silences: Iterable[Silence] = (),
    open_labels: Sequence[Mapping[str, str]] | None = None,
) -> Trace:
    """What happens at ``now`` to a notification with ``labels``. ``silences`` are the stored ones
    (those in the config are added here); ``open_labels``, when given, are the labels of the open
    incidents, which say whether an inhibition rule holds it now."""
    steps = _route_steps(labels, config)
    sinks = tuple(route(labels, config.routes, config.fallback_sinks))
    every = [*config_silences(config), *silences]
    silenced = tuple(s for s in every if s.active(now) and matches(s.match, labels))
    windows = tuple(
        WindowStep(w.name, in_window(w, now)) for w in config.maintenance if matches(w.match, labels)
    )
    rules = config.inhibit_rules
    holder = inhibiting(labels, open_labels, rules) if open_labels is not None else None
    inhibits = tuple(
        InhibitStep(
            i,
            all_hold(r.target_matchers, labels),
            all_hold(r.source_matchers, labels),
            None if open_labels is None else inhibiting(labels, open_labels, rules[i : i + 1]) is not None,
        )
        for i, r in enumerate(rules)
        if all_hold(r.target_matchers, labels) or all_hold(r.source_matchers, labels)
    )
    held: Held | None = (
        "silence"
        if silenced
        else "maintenance"
        if any(w.active for w in windows)
        else "inhibited"
        if holder is not None
        else None
    )
    quiet = {s.name for s in config.sinks if not s.send_resolved}
    no_resolved = tuple(s for s in sinks if s in quiet)
    return Trace(dict(labels), steps, sinks, not steps, no_resolved, silenced, windows, inhibits, held)


def config_silences(config: Config) -> list[Silence]:
    """The config's silences as the daemon holds them (ids ``config-N``)."""
    return [
        Silence(f"config-{i}", s.match, s.ends_at, s.comment, "config") for i, s in enumerate(config.silences)
    ]


def _route_steps(labels: Mapping[str, str], config: Config) -> tuple[RouteStep, ...]:
    """The routes that matched, in order, up to the first that does not say ``continue``."""
    steps = []
    for i, r in enumerate(config.routes):
        if matches(r.match, labels):
            steps.append(RouteStep(i, _shown(r.match), r.sinks, r.continue_))
            if not r.continue_:
                break
    return tuple(steps)


def _shown(match: Match) -> dict[str, Any]:
    return {k: list(v) for k, v in match.model_dump(exclude_none=True).items()}
