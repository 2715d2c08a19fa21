"""Inhibition: what the built-in root-cause keys do not cover, said in configuration.

Grouping already keeps a parent's children quiet. Some causes it cannot see: a tenant-wide outage
(AADSTS90002, tenant not found) makes every other failure in that tenant noise, and only the
operator knows that. ``inhibit_rules`` say it the way Alertmanager does: while an open incident
matches a rule's source side, a notification matching its target side (with the same values for the
``equal`` labels) is held back. It is held, not dropped: like a silenced one it goes out once
nothing inhibits it any more, if it is still true then.

As in Alertmanager, a notification that matches both sides of a rule cannot be held by an incident
that also matches both (so a rule never holds an incident back because of itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from enricher.config import InhibitRule, Matcher, parse_matcher

Labels = Mapping[str, str]


@cache
def _parsed(text: str) -> Matcher:
    return parse_matcher(text)


@cache
def _regex(value: str) -> re.Pattern[str]:
    return re.compile(f"(?:{value})")


def holds(matcher: Matcher, labels: Labels) -> bool:
    """A label the notification lacks has the empty value (as in Alertmanager)."""
    value = labels.get(matcher.label, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = _regex(matcher.value).fullmatch(value) is not None
    return found if matcher.op == "=~" else not found


def all_hold(matchers: Iterable[str], labels: Labels) -> bool:
    return all(holds(_parsed(m), labels) for m in matchers)


def is_source(labels: Labels, rules: Sequence[InhibitRule]) -> bool:
    """Whether an open incident with ``labels`` could hold anything back (the shell keeps only these)."""
    return any(all_hold(r.source_matchers, labels) for r in rules)


def inhibiting(labels: Labels, sources: Iterable[Labels], rules: Sequence[InhibitRule]) -> int | None:
    """The index of the first rule that holds a notification with ``labels`` back, given the labels
    of the open incidents (``sources``); None when nothing does."""
    sources = list(sources)
    for index, rule in enumerate(rules):
        if not all_hold(rule.target_matchers, labels):
            continue
        both = all_hold(rule.source_matchers, labels)
        for source in sources:
            if (
                all_hold(rule.source_matchers, source)
                and not (both and all_hold(rule.target_matchers, source))
                and all(source.get(name, "") == labels.get(name, "") for name in rule.equal)
            ):
                return index
    return None
